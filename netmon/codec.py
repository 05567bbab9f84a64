"""How a result's samples are stored: compact text, deflated against a preset dictionary.

A stored `samples` value is either TEXT (JSON, as every netmon up to schema version 2 wrote it)
or a BLOB: one format byte, the number of samples (2 bytes, big-endian, so the forwarders can
count points without inflating), then raw deflate primed with `DICTIONARIES`: of the same JSON
(format 1), or of line protocol (format 2, written since issue 21: `codec_lines.stored_sample`,
so forwarding a point is string joining, not a JSON decode and a line built field by field).
Format 2 keeps what InfluxDB keeps: a tab or newline inside a string reads back as a space.
Field and tag names repeat in every row; the dictionary removes them: an ICMP result's samples
take ~85 bytes instead of ~285, a PC's host-resources poll ~200 instead of ~1,500 (docs/storage.md).

A dictionary is part of the file format: once released it never changes. A better one is a new
format byte; old rows keep decoding with theirs.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Sequence
from typing import Any

from netmon.codec_lines import parse_sample, stored_sample
from netmon.model import Sample

log = logging.getLogger(__name__)

_WBITS = -12
"""Raw deflate with a 4 KB window: rows are small, and a small window makes each row's compressor cheap."""
_DICT_V1 = (
    b'[["ping",{"url":"10.0.0.1"},{"packets_transmitted":3,"packets_received":3,"percent_packet_loss":0.0,'
    b'"minimum_response_ms":0.0,"average_response_ms":0.0,"maximum_response_ms":0.0,"standard_deviation_ms":0.0,'
    b'"result_code":0}]]'
    b'[["net_response",{"server":"","port":"","protocol":"tcp","result":"success"},{"response_time":0.0,'
    b'"result_code":0}]]'
    b'[["http_response",{"server":"https://","method":"GET","status_code":"200","result":"success"},'
    b'{"response_time":0.0,"http_response_code":200,"content_length":0,"result_code":0}]]'
    b'[["snmp",{},{"sys_descr":"Hardware: Intel64 Family 6 Model AT/AT COMPATIBLE - Software: Windows Version 6.3 '
    b'(Build Multiprocessor Free)","sys_name":"","sys_uptime":0,"uptime_s":0.0,"hr_uptime_s":0.0,"hr_memory_kb":0,'
    b'"rebooted":0,"reboot_ts":0.0,"cpu_load_avg_pct":0.0,"rsrp_dbm":0,"rsrq_db":0,"sinr_db":0}],'
    b'["interface",{"ifIndex":"1","ifName":"","ifDescr":""},{"ifInOctets":0,"ifOutOctets":0,"ifHCInOctets":0,'
    b'"ifHCOutOctets":0,"ifInErrors":0,"ifOutErrors":0,"ifInDiscards":0,"ifOutDiscards":0,"ifOperStatus":1,'
    b'"ifAdminStatus":1,"ifSpeed":0,"ifHighSpeed":0,"in_bps":0.0,"out_bps":0.0}],'
    b'["hr_storage",{"hrStorageIndex":"1","hrStorageDescr":"C:\\\\ Label:  Serial Number "},{"hrStorageType":'
    b'"fixedDisk","hrStorageAllocationUnits":4096,"hrStorageSize":0,"hrStorageUsed":0,"size_bytes":0,'
    b'"used_bytes":0,"used_pct":0.0}],["hr_storage",{"hrStorageIndex":"2","hrStorageDescr":"Physical Memory"},'
    b'{"hrStorageType":"ram","hrStorageAllocationUnits":65536}],["hr_storage",{"hrStorageIndex":"3",'
    b'"hrStorageDescr":"Virtual Memory"},{"hrStorageType":"virtualMemory"}],'
    b'["hr_cpu",{"index":"1"},{"hrProcessorLoad":0}],["hr_cpu",{"index":"2"},{"hrProcessorLoad":0}]]'
    b'[["village_status",{"window":"1h"},{"state":"good","state_code":0,"cause":"none","flagged":0,"outages":0,'
    b'"longest_outage_s":0.0,"availability_pct":100.0,"office_availability_pct":100.0,"loss_pct":0.0,'
    b'"rtt_p95_ms":0.0}],["pc_health",{},{"score":0,"reasons":""}],["netmon_agent",{},{"probes_per_s":0.0}]]'
)
_DICT_V2 = (
    b'snmp\tcpu_load_avg_pct=0,hr_memory_kb=0i,hr_uptime_s=0,reboot_ts=0,rebooted=0i,rsrp_dbm=0i,rsrq_db=0i'
    b',sinr_db=0i,sys_descr="Hardware: Intel64 Family 6 Model AT/AT COMPATIBLE - Software: Windows Version'
    b' 6.3 (Build Multiprocessor Free)",sys_name="",sys_uptime=0i,uptime_s=0\ninterface,ifIndex=1\tifInOctet'
    b's=0i,ifOutOctets=0i,ifHCInOctets=0i,ifHCOutOctets=0i,ifInErrors=0i,ifOutErrors=0i,ifInDiscards=0i,if'
    b'OutDiscards=0i,ifOperStatus=1i,ifAdminStatus=1i,ifSpeed=0i,ifHighSpeed=0i,in_bps=0.0,out_bps=0.0\nhr_'
    b'storage,hrStorageDescr=C:\\ Label:\\ \\ Serial\\ Number\\ ,hrStorageIndex=1\thrStorageAllocationUnits=4096'
    b'i,hrStorageSize=0i,hrStorageType="fixedDisk",hrStorageUsed=0i,size_bytes=0i,used_bytes=0i,used_pct=0'
    b'\nhr_storage,hrStorageDescr=Physical\\ Memory,hrStorageIndex=2\thrStorageAllocationUnits=65536i,hrStora'
    b'geType="ram"\nhr_storage,hrStorageDescr=Virtual\\ Memory,hrStorageIndex=3\thrStorageType="virtualMemory'
    b'"\nhr_cpu,index=1\thrProcessorLoad=0i\nhr_cpu,index=2\thrProcessorLoad=0i\nvillage_status,window=1h\tavail'
    b'ability_pct=100,cause="none",flagged=0i,longest_outage_s=0,loss_pct=0,office_availability_pct=100,ou'
    b'tages=0i,rtt_p95_ms=0,state="good",state_code=0i\npc_health\treasons="",score=0i\nnetmon_agent\tprobes_p'
    b'er_s=0.0\nhttp_response,method=GET,result=success,server=https://,status_code=200\tresponse_time=0.0,h'
    b'ttp_response_code=200i,content_length=0i,result_code=0i\nnet_response,protocol=tcp,result=success\tres'
    b'ponse_time=0.0,result_code=0i\nping,url=10.0.0.1\tpackets_transmitted=3i,packets_received=3i,percent_p'
    b'acket_loss=0.0,minimum_response_ms=0.0,average_response_ms=0.0,maximum_response_ms=0.0,standard_devi'
    b'ation_ms=0.0,result_code=0i'
)
"""The samples of `_DICT_V1` in the stored form of format 2, the most frequent (ping) last:
deflate finds nearer matches cheaper."""
FORMAT_V1 = 1
FORMAT_V2 = 2
DICTIONARIES = {FORMAT_V1: _DICT_V1, FORMAT_V2: _DICT_V2}
_COMPRESSOR = zlib.compressobj(6, zlib.DEFLATED, _WBITS, 4, zlib.Z_DEFAULT_STRATEGY, _DICT_V2)
_COMPRESSOR_V1 = zlib.compressobj(6, zlib.DEFLATED, _WBITS, 4, zlib.Z_DEFAULT_STRATEGY, _DICT_V1)
_DECOMPRESSORS = {v: zlib.decompressobj(_WBITS, d) for v, d in DICTIONARIES.items()}


def encode_samples(samples: Sequence[Sample]) -> bytes:
    """Samples as stored (format 2): one line-protocol line per sample, without device tags and
    timestamp, deflated. Types survive: integers carry their `i`, floats are `repr`-exact."""
    stored = [stored_sample(s) for s in samples]
    if None in stored:
        return _encode_json(samples)
    text = "\n".join(stored).encode()  # type: ignore[arg-type]
    c = _COMPRESSOR.copy()  # primed with the dictionary once; a copy is far cheaper than a new one
    return bytes((FORMAT_V2, len(samples) >> 8 & 0xFF, len(samples) & 0xFF)) + c.compress(text) + c.flush()


def _encode_json(samples: Sequence[Sample]) -> bytes:
    """Format 1: what line protocol cannot carry exactly (rare: a newline in a string, an empty tag)."""
    # allow_nan=False: checked samples never hold NaN, and it must never reach the store as a
    # non-standard token other JSON readers refuse.
    text = json.dumps([[s.measurement, dict(s.tags), dict(s.fields)] for s in samples],
                      ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    c = _COMPRESSOR_V1.copy()
    return bytes((FORMAT_V1, len(samples) >> 8 & 0xFF, len(samples) & 0xFF)) + c.compress(text) + c.flush()


def _inflate(value: bytes) -> str:
    dictionary = _DECOMPRESSORS.get(value[0])
    if dictionary is None:
        raise ValueError(f"samples stored in format {value[0]}, which this netmon does not know")
    d = dictionary.copy()
    text = d.decompress(value[3:])
    if not d.eof:
        raise ValueError("the stored samples end early (a damaged row)")
    return text.decode()


INFLATE_V2 = (_WBITS, _DICT_V2)
"""`zlib.decompressobj(*INFLATE_V2)` inflates one format-2 row (the forwarder's inlined fast path)."""


def stored_lines(value: str | bytes) -> list[str] | None:
    """The stored samples of a format-2 row (see `codec_lines.stored_sample`); None for older
    (JSON) rows, which `sample_rows` reads."""
    if isinstance(value, str) or value[0] != FORMAT_V2:
        return None
    text = _inflate(value)
    return text.split("\n") if text else []


def sample_rows(value: str | bytes) -> list[list[Any]]:
    """The stored value as [measurement, tags, fields] lists, whatever its format."""
    if isinstance(value, str):
        return json.loads(value)
    lines = stored_lines(value)
    if lines is None:
        return json.loads(_inflate(value))
    return [[s.measurement, s.tags, s.fields] for s in map(parse_sample, lines)]


def decode_samples(value: str | bytes) -> tuple[Sample, ...]:
    """Inverse of `encode_samples` (also the plain JSON of older stores); a damaged row yields no samples.

    Rows are checked before they are stored, so this only meets rows damaged on disk or written
    by something else; a reader (analysis, status) must not fail on every cycle because of one
    (logged once). The forwarder reads rows itself and sets such a row aside (batches.py).
    """
    global _undecodable_logged
    try:
        lines = stored_lines(value)
        if lines is not None:
            return tuple(map(parse_sample, lines))
        samples = tuple(Sample(m, fields, tags) for m, tags, fields in sample_rows(value))
        if all(type(s.measurement) is str and type(s.fields) is dict and type(s.tags) is dict for s in samples):
            return samples
        raise ValueError("a sample is not [measurement, {tags}, {fields}]")
    except (ValueError, TypeError, IndexError, zlib.error) as exc:
        if not _undecodable_logged:
            _undecodable_logged = True
            log.warning("a stored result's samples cannot be read (%s); read as a result without samples", exc)
        return ()


_undecodable_logged = False


def samples_count(value: str | bytes | None) -> int:
    """Number of samples in a stored value without inflating it (a SQL function for backlog counts)."""
    if value is None:
        return 0
    try:
        if isinstance(value, str):
            return len(json.loads(value))
        return value[1] << 8 | value[2]
    except (ValueError, TypeError, IndexError):
        return 0  # a damaged row: the forwarder sets it aside when it reaches it
