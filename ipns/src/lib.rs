//! IPNS records: keys, creation, validation and selection (filled by the IPNS issue).
