"""The daemon's compacted config: equal devices in new objects, repeated strings shared."""

from __future__ import annotations

from pathlib import Path

from netmon.config import load_config
from netmon.config.compact import compacted

CONFIG = """version: 1
agent: {name: t, state_dir: state}
auths: {office: {version: 2c, community: public}}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        devices:
          - {name: router, kind: cpe, host: 127.0.0.1, auth: office}
        villages:
          - name: Tả Phìn
            devices:
              - {name: cpe-1, kind: cpe, host: 127.0.0.2, auth: office, parent: router}
              - {name: cpe-2, kind: cpe, host: 127.0.0.3, auth: office, parent: router}
"""


def test_compacted_devices_are_equal_copies_sharing_repeated_strings(tmp_path: Path):
    (tmp_path / "netmon.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "netmon.yaml")
    small = compacted(config)
    assert small.all_devices == config.all_devices and small.devices == config.devices
    assert dict(small.device_by_id) == dict(config.device_by_id)
    assert all(a is not b for a, b in zip(small.all_devices, config.all_devices, strict=True))
    assert all(small.device_by_id[d.id] is d for d in small.all_devices)
    assert {id(d) for d in small.devices} <= {id(d) for d in small.all_devices}
    router, cpe1, cpe2 = small.devices
    assert router.kind is cpe1.kind is cpe2.kind and cpe1.village is cpe2.village and router.auth is cpe1.auth
    assert small.settings is config.settings and small.profiles is config.profiles
