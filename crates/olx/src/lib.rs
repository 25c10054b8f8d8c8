//! Open edX OLX course export reader.
