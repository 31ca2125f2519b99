/*
 * The Records of a market-supervision XML file (contracts.md 1.1), straight from libxml2's SAX2 push
 * parser: the fast path of credit_exchange/feeds/market/parser.py, held to its lxml reference by
 * tests/unit/feeds/market/test_parser.py.
 *
 * What it returns is what the reference reads from each finished Record:
 *     (id, version, op, [(tag, text), ...], None)
 * with the Record's un-namespaced attributes (None when absent), and for each child element its
 * full tag ("{uri}local", or "local" outside any namespace) and its text before any grandchild
 * (None when empty), comments and processing instructions left out, character and predefined
 * entity references and CDATA sections decoded, exactly like lxml's ``child.text``.
 *
 * Given a plan (full tag -> (field name, converter or None), mapping.national_plan keyed by tag),
 * it also maps a Record whose children are all known and none repeated, exactly as
 * mapping.map_values does, and returns (id, version, op, None, data) for it instead. Any other
 * Record comes back with its children, for the Python slow path to report.
 *
 * Safety: no DTD is loaded, no entity is substituted from a DTD, nothing touches the network, and
 * a DOCTYPE stops the parse at once (before its internal subset is read). The root's own checks
 * (name, kind, recordCount, encoding) stay with the reference code, which reads the prolog first.
 * libxml2's default limits hold, as in the reference (no XML_PARSE_HUGE): 10 MB for a text,
 * comment, attribute value or processing instruction, 256 levels of elements. The tree builder
 * lxml uses enforces the text limit, which libxml2's SAX layer leaves to it: it is enforced here.
 *
 * This module is built against the system's libxml2 (Debian 12: 2.9.14), lxml against its own
 * (2.14). Where the older push parser differs it is compensated for here or in market_xml.py
 * (namespace errors are checked at the end; blocks are fed so that they end after a '>').
 *
 * Structure: a Record anywhere but directly under the root stops the parse with Unexpected("Record")
 * when it ends; any other element directly under the root (the first such) stops it with
 * Unexpected(its local name) when the next Record or the root ends. Those are the moments the
 * reference notices them, so a file with several faults is refused for the same one.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

static PyObject *NotWellFormed;  /* (detail: str) */
static PyObject *Unexpected;     /* (element local name: str) */
static PyObject *Doctype;        /* () */

#define TAG_CACHE 64

typedef struct {
    const xmlChar *uri, *local;  /* interned by the parser's dictionary: stable for its lifetime */
    PyObject *tag;
    PyObject *entry;             /* the plan's (name, converter) tuple, held; NULL: not in the plan */
    PyObject *name, *fn;         /* its items (fn NULL: no converter) */
} TagEntry;

enum { FAIL_NONE, FAIL_PYTHON, FAIL_UNEXPECTED, FAIL_DOCTYPE, FAIL_LIMIT };

/* libxml2's XML_MAX_TEXT_LENGTH: the longest text node the tree builder accepts without HUGE. */
#define MAX_TEXT 10000000

typedef struct {
    PyObject_HEAD
    xmlParserCtxtPtr ctxt;
    xmlChar *ns;              /* the records' namespace */
    PyObject *out;            /* finished records since the last feed */
    int depth;
    PyObject *plan;           /* dict or NULL */
    PyObject *strip;          /* "strip" */
    /* the Record being read: its attributes and children so far */
    PyObject *rec_id, *rec_version, *rec_op;
    int n_children, cap_children;
    int *child_index;         /* each child's entry in tags, -1 when the cache was full */
    PyObject **child_tags, **child_texts;
    uint64_t seen;            /* entries met in this Record */
    int odd;                  /* a child repeated, unknown to the plan, or beyond the cache */
    /* the child element being read */
    PyObject *child_tag;
    int child_at;
    int text_open;            /* still before the child's first grandchild */
    char *text;
    Py_ssize_t text_len, text_cap;
    int failure;
    PyObject *unexpected;     /* local name for FAIL_UNEXPECTED */
    PyObject *stray;          /* local name of the element under the root being read, not a Record */
    PyObject *pending;        /* local name of the first such element: refuses the file at the next
                                 Record's end or the root's end */
    int closed;
    int root_ended_after_stray; /* reported once the whole document has parsed, as lxml does */
    Py_ssize_t text_run;      /* bytes of character data since the last tag, anywhere */
    const char *limit;        /* what FAIL_LIMIT exceeded */
    int busy;                 /* inside feed() or close(): a converter may not re-enter */
    TagEntry tags[TAG_CACHE];
    int n_tags;
} Parser;

static void stop(Parser *p, int failure) {
    if (p->failure == FAIL_NONE)
        p->failure = failure;
    xmlStopParser(p->ctxt);
}

/* The child's full tag (a new reference) and its entry in the cache (-1: the cache is full). */
static PyObject *tag_of(Parser *p, const xmlChar *local, const xmlChar *uri, int *at) {
    for (int i = 0; i < p->n_tags; i++)
        if (p->tags[i].local == local && p->tags[i].uri == uri) {
            *at = i;
            return Py_NewRef(p->tags[i].tag);
        }
    *at = -1;
    PyObject *tag = uri ? PyUnicode_FromFormat("{%s}%s", (const char *)uri, (const char *)local)
                        : PyUnicode_FromString((const char *)local);
    if (tag && p->n_tags < TAG_CACHE) {
        PyObject *entry = NULL;
        if (p->plan) {
            entry = PyDict_GetItemWithError(p->plan, tag);
            if (!entry && PyErr_Occurred()) {
                Py_DECREF(tag);
                return NULL;
            }
            if (entry && (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2)) {
                PyErr_SetString(PyExc_TypeError, "a plan entry is a (name, converter) tuple");
                Py_DECREF(tag);
                return NULL;
            }
        }
        TagEntry *e = &p->tags[p->n_tags];
        e->local = local;
        e->uri = uri;
        e->tag = Py_NewRef(tag);
        e->entry = Py_XNewRef(entry);  /* held: the plan may change, the cache may not */
        e->name = entry ? PyTuple_GET_ITEM(entry, 0) : NULL;
        e->fn = entry && PyTuple_GET_ITEM(entry, 1) != Py_None ? PyTuple_GET_ITEM(entry, 1) : NULL;
        *at = p->n_tags++;
    }
    return tag;
}

/* An attribute value as the SAX layer passes it: with entity substitution off, libxml2 writes a
 * referenced '&' (from &amp; or &#38;) as the text "&#38;", for the tree builder to decode later. */
static PyObject *attr_value(const xmlChar *value, const xmlChar *end) {
    Py_ssize_t n = end - value;
    if (!memchr(value, '&', (size_t)n))
        return PyUnicode_DecodeUTF8((const char *)value, n, "strict");
    char *buf = PyMem_Malloc((size_t)n + 1);
    if (!buf)
        return PyErr_NoMemory();
    Py_ssize_t j = 0;
    for (Py_ssize_t i = 0; i < n;) {
        if (value[i] == '&' && i + 5 <= n && memcmp(value + i, "&#38;", 5) == 0) {
            buf[j++] = '&';
            i += 5;
        } else {
            buf[j++] = (char)value[i++];
        }
    }
    PyObject *s = PyUnicode_DecodeUTF8(buf, j, "strict");
    PyMem_Free(buf);
    return s;
}

static int is_record(Parser *p, const xmlChar *local, const xmlChar *uri) {
    return uri != NULL && xmlStrEqual(local, BAD_CAST "Record") && xmlStrEqual(uri, p->ns);
}

static void clear_children(Parser *p) {
    for (int i = 0; i < p->n_children; i++) {
        Py_DECREF(p->child_tags[i]);
        Py_DECREF(p->child_texts[i]);
    }
    p->n_children = 0;
    p->seen = 0;
    p->odd = 0;
}

static void clear_record(Parser *p) {
    Py_CLEAR(p->rec_id);
    Py_CLEAR(p->rec_version);
    Py_CLEAR(p->rec_op);
    Py_CLEAR(p->child_tag);
    clear_children(p);
}

/* Keep one child (both references are taken over). */
static int add_child(Parser *p, int at, PyObject *tag, PyObject *text) {
    if (p->n_children == p->cap_children) {
        int cap = p->cap_children ? 2 * p->cap_children : 32;
        int *index = PyMem_Realloc(p->child_index, (size_t)cap * sizeof(int));
        if (index)
            p->child_index = index;
        PyObject **tags = index ? PyMem_Realloc(p->child_tags, (size_t)cap * sizeof(PyObject *)) : NULL;
        if (tags)
            p->child_tags = tags;
        PyObject **texts = tags ? PyMem_Realloc(p->child_texts, (size_t)cap * sizeof(PyObject *)) : NULL;
        if (!texts) {
            Py_DECREF(tag);
            Py_DECREF(text);
            PyErr_NoMemory();
            return -1;
        }
        p->child_texts = texts;
        p->cap_children = cap;
    }
    p->child_index[p->n_children] = at;
    p->child_tags[p->n_children] = tag;
    p->child_texts[p->n_children] = text;
    p->n_children++;
    return 0;
}

/* [(tag, text), ...] of the Record's children. */
static PyObject *children_list(Parser *p) {
    PyObject *list = PyList_New(p->n_children);
    if (!list)
        return NULL;
    for (int i = 0; i < p->n_children; i++) {
        PyObject *pair = PyTuple_Pack(2, p->child_tags[i], p->child_texts[i]);
        if (!pair) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, pair);
    }
    return list;
}

/* str.strip(): the text itself when neither end is white space (the usual case). */
static PyObject *stripped(Parser *p, PyObject *text) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (n && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, 0))
        && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, n - 1)))
        return Py_NewRef(text);
    return PyObject_CallMethodNoArgs(text, p->strip);
}

/* mapping.map_values over children that are all in the plan, none repeated. */
static PyObject *mapped(Parser *p) {
    PyObject *data = PyDict_New();
    if (!data)
        return NULL;
    for (int i = 0; i < p->n_children; i++) {
        PyObject *text = p->child_texts[i];
        if (text == Py_None)
            continue;
        PyObject *s = stripped(p, text);
        if (!s)
            goto fail;
        if (PyUnicode_GET_LENGTH(s) == 0) {
            Py_DECREF(s);
            continue;
        }
        TagEntry *e = &p->tags[p->child_index[i]];
        PyObject *value = s;
        if (e->fn) {
            value = PyObject_CallOneArg(e->fn, s);
            Py_DECREF(s);
            if (!value)
                goto fail;
            if (PyList_Check(value) && PyList_GET_SIZE(value) == 0) {  /* converted == [] */
                Py_DECREF(value);
                continue;
            }
        }
        int rc = PyDict_SetItem(data, e->name, value);
        Py_DECREF(value);
        if (rc < 0)
            goto fail;
    }
    return data;
fail:
    Py_DECREF(data);
    return NULL;
}

static void on_start(void *ctx, const xmlChar *local, const xmlChar *prefix, const xmlChar *uri,
                     int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted,
                     const xmlChar **attributes) {
    (void)prefix; (void)nb_namespaces; (void)namespaces; (void)nb_defaulted;
    Parser *p = (Parser *)((xmlParserCtxtPtr)ctx)->_private;
    if (p->failure)
        return;
    p->text_run = 0;
    p->depth++;
    if (p->depth == 1)
        return;  /* the root: checked by the caller from the prolog */
    if (p->depth == 2) {
        clear_record(p);
        if (!is_record(p, local, uri)) {
            p->stray = PyUnicode_FromString((const char *)local);
            if (!p->stray)
                stop(p, FAIL_PYTHON);
            return;
        }
        for (int i = 0; i < nb_attributes; i++) {
            const xmlChar **a = attributes + 5 * i;
            if (a[2] != NULL)
                continue;  /* a namespaced attribute is not id/version/op */
            PyObject **slot = xmlStrEqual(a[0], BAD_CAST "id") ? &p->rec_id
                              : xmlStrEqual(a[0], BAD_CAST "version") ? &p->rec_version
                              : xmlStrEqual(a[0], BAD_CAST "op") ? &p->rec_op : NULL;
            if (slot == NULL)
                continue;
            PyObject *v = attr_value(a[3], a[4]);
            if (!v) {
                stop(p, FAIL_PYTHON);
                return;
            }
            Py_XSETREF(*slot, v);
        }
        return;
    }
    if (p->stray)
        return;  /* inside an element that refuses the file */
    if (p->depth == 3) {
        int at;
        Py_XSETREF(p->child_tag, tag_of(p, local, uri, &at));
        if (!p->child_tag) {
            stop(p, FAIL_PYTHON);
            return;
        }
        p->child_at = at;
        if (at < 0 || (p->seen >> at & 1) || !p->tags[at].name)
            p->odd = 1;
        else
            p->seen |= (uint64_t)1 << at;
        p->text_len = 0;
        p->text_open = 1;
    } else if (p->depth == 4) {
        p->text_open = 0;  /* the child's text is what comes before its first element */
    }
}

static void on_end(void *ctx, const xmlChar *local, const xmlChar *prefix, const xmlChar *uri) {
    (void)prefix;
    Parser *p = (Parser *)((xmlParserCtxtPtr)ctx)->_private;
    if (p->failure)
        return;
    p->text_run = 0;
    if (p->depth >= 3 && is_record(p, local, uri)) {
        p->unexpected = PyUnicode_FromString("Record");
        stop(p, p->unexpected ? FAIL_UNEXPECTED : FAIL_PYTHON);
        return;
    }
    if (p->depth == 1 && p->pending) {
        /* The reference looks under the root only once the whole document has parsed: anything
         * malformed after the root's end is reported first (Parser_close). */
        p->root_ended_after_stray = 1;
        p->depth--;
        return;
    }
    if (p->depth == 2 && !p->stray) {
        if (p->pending) {  /* a Record ends after an element that is not a Record */
            p->unexpected = p->pending;
            p->pending = NULL;
            stop(p, FAIL_UNEXPECTED);
            return;
        }
    }
    if (p->stray) {
        if (p->depth == 2) {
            if (p->pending)
                Py_CLEAR(p->stray);
            else
                p->pending = p->stray;
            p->stray = NULL;
        }
    } else if (p->depth == 3) {
        PyObject *text;
        if (p->text_len) {
            text = PyUnicode_DecodeUTF8(p->text, p->text_len, "strict");
            if (!text) {
                stop(p, FAIL_PYTHON);
                return;
            }
        } else {
            text = Py_NewRef(Py_None);
        }
        PyObject *tag = p->child_tag;  /* the reference moves into the list of children */
        p->child_tag = NULL;
        p->text_open = 0;
        if (add_child(p, p->child_at, tag, text) < 0) {
            stop(p, FAIL_PYTHON);
            return;
        }
    } else if (p->depth == 2) {
        PyObject *children = NULL, *data = NULL;
        if (p->plan && !p->odd)
            data = mapped(p);
        else
            children = children_list(p);
        clear_children(p);
        PyObject *rec = (data || children) ? PyTuple_New(5) : NULL;
        if (!rec) {
            Py_XDECREF(data);
            Py_XDECREF(children);
            stop(p, FAIL_PYTHON);
            return;
        }
        PyTuple_SET_ITEM(rec, 0, p->rec_id ? p->rec_id : Py_NewRef(Py_None));
        PyTuple_SET_ITEM(rec, 1, p->rec_version ? p->rec_version : Py_NewRef(Py_None));
        PyTuple_SET_ITEM(rec, 2, p->rec_op ? p->rec_op : Py_NewRef(Py_None));
        PyTuple_SET_ITEM(rec, 3, children ? children : Py_NewRef(Py_None));
        PyTuple_SET_ITEM(rec, 4, data ? data : Py_NewRef(Py_None));
        p->rec_id = p->rec_version = p->rec_op = NULL;
        int rc = PyList_Append(p->out, rec);
        Py_DECREF(rec);
        if (rc < 0)
            stop(p, FAIL_PYTHON);
    }
    p->depth--;
}

static void on_text(void *ctx, const xmlChar *ch, int len) {
    Parser *p = (Parser *)((xmlParserCtxtPtr)ctx)->_private;
    if (p->failure || len <= 0)
        return;
    /* Every text node counts (lxml builds them all), comments and PIs do not split one (lxml drops
     * them before the tree sees them). */
    p->text_run += len;
    if (p->text_run > MAX_TEXT) {
        p->limit = "Text node too long (over 10,000,000 bytes)";
        stop(p, FAIL_LIMIT);
        return;
    }
    if (p->depth != 3 || !p->text_open || p->stray)
        return;
    if (p->text_len + len > p->text_cap) {
        Py_ssize_t cap = p->text_cap ? p->text_cap : 256;
        while (cap < p->text_len + len)
            cap *= 2;
        char *grown = PyMem_Realloc(p->text, (size_t)cap);
        if (!grown) {
            PyErr_NoMemory();
            stop(p, FAIL_PYTHON);
            return;
        }
        p->text = grown;
        p->text_cap = cap;
    }
    memcpy(p->text + p->text_len, ch, (size_t)len);
    p->text_len += len;
}

static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id) {
    (void)name; (void)external_id; (void)system_id;
    stop((Parser *)((xmlParserCtxtPtr)ctx)->_private, FAIL_DOCTYPE);
}

/* Entities come only from a DTD, and a DTD is refused: nothing to look up but the predefined five. */
static xmlEntityPtr on_entity(void *ctx, const xmlChar *name) {
    (void)ctx;
    return xmlGetPredefinedEntity(name);
}

static void quiet(void *ctx, const char *msg, ...) { (void)ctx; (void)msg; }
static void quiet_structured(void *ctx, xmlErrorPtr error) { (void)ctx; (void)error; }

static xmlSAXHandler SAX;

static void init_sax(void) {
    memset(&SAX, 0, sizeof SAX);
    SAX.initialized = XML_SAX2_MAGIC;
    SAX.startElementNs = on_start;
    SAX.endElementNs = on_end;
    SAX.characters = on_text;
    SAX.ignorableWhitespace = on_text;
    SAX.cdataBlock = on_text;
    SAX.internalSubset = on_doctype;
    SAX.externalSubset = NULL;
    SAX.getEntity = on_entity;
    SAX.getParameterEntity = NULL;
    SAX.resolveEntity = NULL;
    SAX.entityDecl = NULL;
    SAX.warning = quiet;
    SAX.error = quiet;
    SAX.fatalError = quiet;
    SAX.serror = quiet_structured;
}

static int create_ctxt(Parser *p, const char *data, int len) {
    p->ctxt = xmlCreatePushParserCtxt(&SAX, NULL, data, len, NULL);
    if (!p->ctxt) {
        PyErr_NoMemory();
        return -1;
    }
    p->ctxt->_private = p;
    xmlCtxtUseOptions(p->ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    return 0;
}

/* After a feed: the finished records, or the error that stopped the parse. */
static PyObject *harvest(Parser *p, int rc) {
    if (p->failure == FAIL_PYTHON) {
        if (!PyErr_Occurred())  /* raised by an earlier feed(): this parser cannot go on */
            PyErr_SetString(PyExc_RuntimeError, "the parser failed earlier and cannot go on");
        return NULL;
    }
    if (p->failure == FAIL_LIMIT) {
        PyErr_SetString(NotWellFormed, p->limit);
        p->closed = 1;
        return NULL;
    }
    if (p->failure == FAIL_UNEXPECTED) {
        PyErr_SetObject(Unexpected, p->unexpected);
        return NULL;
    }
    if (p->failure == FAIL_DOCTYPE) {
        PyErr_SetNone(Doctype);
        return NULL;
    }
    if (rc != 0 || !p->ctxt->wellFormed) {
        xmlErrorPtr err = xmlCtxtGetLastError(p->ctxt);
        if (err && err->message) {
            /* The shape of lxml's XMLSyntaxError text: "<message>, line L, column C". */
            size_t n = strlen(err->message);
            while (n && (err->message[n - 1] == '\n' || err->message[n - 1] == ' '))
                n--;
            PyObject *msg = PyUnicode_DecodeUTF8(err->message, (Py_ssize_t)n, "replace");
            if (msg) {
                PyObject *detail = PyUnicode_FromFormat("%U, line %d, column %d", msg, err->line, err->int2);
                Py_DECREF(msg);
                if (detail) {
                    PyErr_SetObject(NotWellFormed, detail);
                    Py_DECREF(detail);
                }
            }
        } else {
            PyErr_SetString(NotWellFormed, "not well-formed");
        }
        p->closed = 1;
        return NULL;
    }
    PyObject *out = p->out;
    p->out = PyList_New(0);
    if (!p->out) {
        p->out = out;
        return NULL;
    }
    return out;
}

/* feed() and close() run converters (Python) inside libxml2: they must not re-enter it. */
static int enter(Parser *p) {
    if (p->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the parser is already parsing");
        return -1;
    }
    if (p->closed) {
        PyErr_SetString(PyExc_ValueError, "the parser is closed");
        return -1;
    }
    p->busy = 1;
    return 0;
}

static PyObject *Parser_feed(Parser *p, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (enter(p) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    const char *data = view.buf;
    Py_ssize_t left = view.len;
    int rc = 0;
    if (!p->ctxt) {
        /* libxml2 settles the encoding on the first bytes it is given */
        int first = left < 4 ? (int)left : 4;
        if (create_ctxt(p, data, first) < 0) {
            PyBuffer_Release(&view);
            p->busy = 0;
            return NULL;
        }
        data += first;
        left -= first;
    }
    while (left > 0 && rc == 0 && !p->failure) {
        int n = left > (1 << 30) ? (1 << 30) : (int)left;
        rc = xmlParseChunk(p->ctxt, data, n, 0);
        data += n;
        left -= n;
    }
    PyBuffer_Release(&view);
    PyObject *out = harvest(p, rc);
    p->busy = 0;
    return out;
}

static PyObject *Parser_close(Parser *p, PyObject *Py_UNUSED(ignored)) {
    if (enter(p) < 0)
        return NULL;
    if (!p->ctxt && create_ctxt(p, NULL, 0) < 0) {
        p->busy = 0;
        return NULL;
    }
    int rc = p->failure ? 0 : xmlParseChunk(p->ctxt, NULL, 0, 1);
    if (rc == 0 && !p->failure && p->ctxt->wellFormed) {
        /* What the reference reports once the whole document has parsed, in its order: namespace
         * errors (an undeclared prefix, xmlns:q=""; libxml2 2.9 only flags them), then an element
         * under the root that is not a Record and no later Record met. */
        if (!p->ctxt->nsWellFormed) {
            p->limit = "Namespace error (an undeclared prefix or an empty namespace name)";
            p->failure = FAIL_LIMIT;
        } else if (p->root_ended_after_stray) {
            p->unexpected = p->pending;
            p->pending = NULL;
            p->failure = FAIL_UNEXPECTED;
        }
    }
    PyObject *out = harvest(p, rc);
    p->closed = 1;
    p->busy = 0;
    return out;
}

static PyObject *Parser_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"namespace", "plan", NULL};
    const char *ns;
    PyObject *plan = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|O", kwlist, &ns, &plan))
        return NULL;
    if (plan != Py_None && !PyDict_Check(plan)) {
        PyErr_SetString(PyExc_TypeError, "plan must be a dict or None");
        return NULL;
    }
    Parser *p = (Parser *)type->tp_alloc(type, 0);
    if (!p)
        return NULL;
    p->plan = plan == Py_None ? NULL : Py_NewRef(plan);
    p->strip = PyUnicode_InternFromString("strip");
    p->ns = xmlStrdup(BAD_CAST ns);
    p->out = PyList_New(0);
    if (!p->ns || !p->out || !p->strip) {
        Py_DECREF(p);
        return PyErr_NoMemory();
    }
    return (PyObject *)p;
}

static void Parser_dealloc(Parser *p) {
    if (p->ctxt) {
        if (p->ctxt->myDoc)
            xmlFreeDoc(p->ctxt->myDoc);
        xmlFreeParserCtxt(p->ctxt);
    }
    clear_record(p);
    PyMem_Free(p->child_index);
    PyMem_Free(p->child_tags);
    PyMem_Free(p->child_texts);
    Py_XDECREF(p->plan);
    Py_XDECREF(p->strip);
    Py_XDECREF(p->out);
    Py_XDECREF(p->unexpected);
    Py_XDECREF(p->stray);
    Py_XDECREF(p->pending);
    for (int i = 0; i < p->n_tags; i++) {
        Py_DECREF(p->tags[i].tag);
        Py_XDECREF(p->tags[i].entry);
    }
    if (p->ns)
        xmlFree(p->ns);
    PyMem_Free(p->text);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

static PyMethodDef Parser_methods[] = {
    {"feed", (PyCFunction)Parser_feed, METH_O,
     "Parse the next bytes of the document; returns the Records finished in them."},
    {"close", (PyCFunction)Parser_close, METH_NOARGS,
     "The document has ended: returns the last Records, or raises if it is cut short."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ParserType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "credit_exchange.fast._market_sax.Parser",
    .tp_basicsize = sizeof(Parser),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Streaming reader of the Records of one market XML document.",
    .tp_new = Parser_new,
    .tp_dealloc = (destructor)Parser_dealloc,
    .tp_methods = Parser_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_market_sax", "libxml2 SAX reader of market XML Records.", -1, NULL, NULL, NULL,
    NULL, NULL,
};

PyMODINIT_FUNC PyInit__market_sax(void) {
    xmlInitParser();
    init_sax();
    if (PyType_Ready(&ParserType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    NotWellFormed = PyErr_NewException("credit_exchange.fast._market_sax.NotWellFormed", NULL, NULL);
    Unexpected = PyErr_NewException("credit_exchange.fast._market_sax.Unexpected", NULL, NULL);
    Doctype = PyErr_NewException("credit_exchange.fast._market_sax.Doctype", NULL, NULL);
    if (!NotWellFormed || !Unexpected || !Doctype
        || PyModule_AddObjectRef(m, "NotWellFormed", NotWellFormed) < 0
        || PyModule_AddObjectRef(m, "Unexpected", Unexpected) < 0
        || PyModule_AddObjectRef(m, "Doctype", Doctype) < 0
        || PyModule_AddObjectRef(m, "Parser", (PyObject *)&ParserType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddStringConstant(m, "LIBXML_VERSION", xmlParserVersion);
    return m;
}
