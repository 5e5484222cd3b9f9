"""What the directorate reads: the compliance report, exports, the roster, metrics."""
