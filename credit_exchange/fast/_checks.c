/*
 * The boolean check algorithms of data-standard.md section 5, in C: the JSON Schema formats that
 * jsonschema-rs calls for every USCC, organisation code, ID number and date of every record.
 *
 * Each function answers exactly what its reference in credit_exchange/standard/checks.py answers (is_uscc,
 * is_org_code, is_id_number, is_date), non-text values included (True: the schema's type rule
 * reports those); tests/unit/standard/test_checks.py holds them to it. The references stay the single
 * statement of the rules and give the rule codes for receipts; these only say valid or not.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static const char USCC_ALPHABET[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static const int USCC_WEIGHTS[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
static const int ORG_WEIGHTS[8] = {3, 7, 9, 10, 5, 8, 4, 2};
static const int ID_WEIGHTS[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
static const char ID_CHECK[] = "10X98765432";

static signed char uscc_value[256];  /* index in the USCC alphabet, -1 outside it */

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_upper_or_digit(char c) { return is_digit(c) || (c >= 'A' && c <= 'Z'); }

/* GB 11714: digits are their value, letters 10 + position (A = 10). */
static char org_check_char(const char *body) {
    int total = 0;
    for (int i = 0; i < 8; i++) {
        char c = body[i];
        total += (is_digit(c) ? c - '0' : c - 'A' + 10) * ORG_WEIGHTS[i];
    }
    int c = 11 - total % 11;
    return c == 10 ? 'X' : c == 11 ? '0' : (char)('0' + c);
}

/* A real proleptic Gregorian date, year 1-9999 (what datetime.date accepts). */
static int real_date(int y, int m, int d) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

static int digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Text values only: 1 with the ASCII text, 0 for a non-ASCII text (never valid here), -1 for
 * anything that is not text (valid as far as the format goes). */
static int ascii_text(PyObject *value, const char **s, Py_ssize_t *n) {
    if (!PyUnicode_Check(value))
        return -1;
    if (!PyUnicode_IS_ASCII(value))
        return 0;
    *s = (const char *)PyUnicode_1BYTE_DATA(value);
    *n = PyUnicode_GET_LENGTH(value);
    return 1;
}

static int uscc_ok(const char *s, Py_ssize_t n) {
    if (n != 18 || memcmp(s, "00000000000000000X", 18) == 0)
        return 0;
    int total = 0;
    for (int i = 0; i < 18; i++) {
        int v = uscc_value[(unsigned char)s[i]];
        if (v < 0)
            return 0;
        if (i < 17)
            total += v * USCC_WEIGHTS[i];
    }
    if (org_check_char(s + 8) != s[16])
        return 0;
    int c = 31 - total % 31;
    return USCC_ALPHABET[c == 31 ? 0 : c] == s[17];
}

static int org_code_ok(const char *s, Py_ssize_t n) {
    if (n != 9 && n != 10)
        return 0;
    for (int i = 0; i < 8; i++)
        if (!is_upper_or_digit(s[i]))
            return 0;
    if (n == 10 && s[8] != '-')
        return 0;
    char check = s[n - 1];
    if (!is_digit(check) && check != 'X')
        return 0;
    return org_check_char(s) == check;
}

static int id_number_ok(const char *s, Py_ssize_t n) {
    if (n != 18)
        return 0;
    int total = 0;
    for (int i = 0; i < 17; i++) {
        if (!is_digit(s[i]))
            return 0;
        total += (s[i] - '0') * ID_WEIGHTS[i];
    }
    if (!is_digit(s[17]) && s[17] != 'X')
        return 0;
    if (!real_date(digits(s + 6, 4), digits(s + 10, 2), digits(s + 12, 2)))
        return 0;
    return ID_CHECK[total % 11] == s[17];
}

static int date_ok(const char *s, Py_ssize_t n) {
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    return y >= 0 && m >= 0 && d >= 0 && real_date(y, m, d);
}

#define CHECK(name, ok)                                               \
    static PyObject *name(PyObject *module, PyObject *value) {        \
        const char *s;                                                \
        Py_ssize_t n;                                                 \
        int kind = ascii_text(value, &s, &n);                         \
        return PyBool_FromLong(kind < 0 ? 1 : kind == 0 ? 0 : ok(s, n)); \
    }

CHECK(is_uscc, uscc_ok)
CHECK(is_org_code, org_code_ok)
CHECK(is_id_number, id_number_ok)
CHECK(is_date, date_ok)

static PyMethodDef methods[] = {
    {"is_uscc", is_uscc, METH_O, "checks.is_uscc in C."},
    {"is_org_code", is_org_code, METH_O, "checks.is_org_code in C."},
    {"is_id_number", is_id_number, METH_O, "checks.is_id_number in C."},
    {"is_date", is_date, METH_O, "checks.is_date in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_checks", "The format checks of credit_exchange.standard.checks, in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__checks(void) {
    memset(uscc_value, -1, sizeof uscc_value);
    for (int i = 0; USCC_ALPHABET[i]; i++)
        uscc_value[(unsigned char)USCC_ALPHABET[i]] = (signed char)i;
    return PyModule_Create(&module);
}
