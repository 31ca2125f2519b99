"""What every department feed shares: the envelope of a delivered record, and the life of a received unit."""
