"""The lab: a virtual province in Linux network namespaces, with scripted trouble (root only).

    netmon.lab.cli.lab_main(argv) -> int     `netmon lab up SCENARIO | down [NAME] | status [NAME]`
    netmon.lab.demo.run_demo(argv) -> int    `netmon demo`: lab + daemon in the agent namespace + live view
    netmon.lab.builder.up(scenario, name) -> LabState;  .down(name) -> list[str];  .status(name) -> dict
    netmon.lab.scenario.load_scenario(path) -> Scenario   raises ConfigError (file:line: path: message)

Nothing is imported here, so `python -m netmon.lab.trouble` (the supervisor) starts cleanly.
"""
