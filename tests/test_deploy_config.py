"""The container deployment bounds each replica and gives its user a writable cache (issue 23).

Docker itself is not needed: the compose file and the Dockerfile are read as text/YAML.
"""

from __future__ import annotations

import re

import yaml

from tests.helpers import ROOT

DEPLOY = ROOT / "deploy"


def test_every_replica_has_memory_cpu_and_pids_limits_and_a_cache_volume() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    apps = {name: spec for name, spec in compose["services"].items() if name.startswith("app")}
    assert len(apps) >= 2
    for name, spec in apps.items():
        for key in ("mem_limit", "memswap_limit", "cpus", "pids_limit"):
            assert spec.get(key), f"{name} has no {key}"
        assert spec["memswap_limit"] == spec["mem_limit"], "swap would slow a runaway replica instead of stopping it"
        assert "cache:/home/ragviz/.cache" in spec["volumes"]
        assert "RAGVIZ_MAX_MODELS_MB" in spec["environment"] and "RAGVIZ_MAX_MODELS_FILES" in spec["environment"]
    assert "cache" in compose["volumes"]


def test_the_container_user_has_a_writable_home() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "HOME=/home/ragviz" in dockerfile
    assert "--no-create-home" not in dockerfile and "--create-home" in dockerfile
    assert re.search(r"chown ragviz [^\n]*/home/ragviz/\.cache", dockerfile)


def test_streamlit_and_nginx_take_no_upload_larger_than_the_largest_real_limit() -> None:
    """Streamlit keeps any upload up to server.maxUploadSize in memory, whatever the uploader: that
    size is the largest per-type limit, and nginx's body limit is the same."""
    import tomllib

    from ragviz.safety.limits import KINDS, get_limits
    from ragviz.safety.uploads import STREAMLIT_MB, server_upload_mb

    limits = get_limits({})
    largest = max(limits.upload_bytes_for(kind) for kind in KINDS)
    mib = server_upload_mb(limits)  # Streamlit's and nginx's megabytes are both 2**20 bytes
    assert (mib - 1) * STREAMLIT_MB < largest <= mib * STREAMLIT_MB  # the smallest setting that takes it
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == mib
    nginx = (DEPLOY / "nginx" / "ragviz-http.conf").read_text()
    assert re.search(rf"client_max_body_size {mib}m;", nginx)
