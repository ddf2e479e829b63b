"""Odds and ends Theano kept under `theano.misc`: `safe_asarray._asarray`, and the table of
Theano's config flags (`theano_flags`)."""
