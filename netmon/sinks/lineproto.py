"""InfluxDB line protocol for the outputs: lives in `netmon.codec_lines`, the stored form of samples."""

from netmon.codec_lines import (
    PRECISION,
    escape_key,
    escape_measurement,
    escape_tag_value,
    format_fields,
    join_tags,
    line,
    sanitize_tag_value,
    tag_pairs,
    to_ms,
)

__all__ = ["PRECISION", "escape_key", "escape_measurement", "escape_tag_value", "format_fields", "join_tags",
           "line", "sanitize_tag_value", "tag_pairs", "to_ms"]
