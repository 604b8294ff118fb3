//! triage library.
