"""Ship the top-level `probes/` and the loopback demo inside the wheel, under `netmon/data/`.

The repository keeps profiles in `probes/` and the demo in `config/` (the layout everyone edits);
a wheel has only the `netmon` package, so setuptools maps those folders into it here. The compiled
catalogs (netmon/locale/*/LC_MESSAGES/netmon.mo) are committed, so installing needs no Babel step. Everything
else about the build is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["netmon", "netmon.*"]), "netmon.data.probes", "netmon.data.demo"],
    package_dir={"netmon.data.probes": "probes", "netmon.data.demo": "config"},
    package_data={"netmon": ["py.typed", "locale/*/LC_MESSAGES/netmon.mo",
                             "locale/*/LC_MESSAGES/netmon.po"], "netmon.data.probes": ["*.yaml"],
                  "netmon.data.demo": ["demo.yaml", "demo-probes/*.yaml", "demo-lab.yaml", "lab.yaml"]},
)
