"""Debug settings: layer precedence, refusals that name the setting and its source."""
import json
import os
import time

import pytest

from n3core.tracing.bootstrap import cleanup, point_latest
from n3core.tracing.errors import TraceConfigError
from n3core.tracing.settings import DebugSettings, load_settings


def workspace(tmp_path, **settings):
    (tmp_path / ".namel3ss").mkdir(exist_ok=True)
    (tmp_path / ".namel3ss" / "debug.json").write_text(json.dumps(settings))
    return tmp_path


def test_defaults_without_any_layer(tmp_path):
    assert load_settings(tmp_path, environ={}) == DebugSettings()
    assert DebugSettings().enabled is False and DebugSettings().output_dir == "debug/traces"


def test_each_layer_overrides_the_one_below(tmp_path):
    ws = workspace(tmp_path, enabled=True, buffer_size=1024, policy="drop", retention_days=3)
    env = {"NAMEL3SS_DEBUG_BUFFER_SIZE": "2048", "NAMEL3SS_DEBUG_POLICY": "flight-recorder"}
    settings = load_settings(ws, environ=env, overrides={"policy": "block"})
    assert settings.enabled is True            # from debug.json
    assert settings.retention_days == 3        # from debug.json
    assert settings.buffer_size == 2048        # the environment beat debug.json
    assert settings.policy == "block"          # the command line beat both


def test_lists_from_the_environment(tmp_path):
    env = {"NAMEL3SS_DEBUG_COMPONENTS": "agent, llm", "NAMEL3SS_DEBUG_EVENT_TYPES": "llm_call"}
    settings = load_settings(tmp_path, environ=env)
    assert settings.components == ("agent", "llm")
    assert settings.trace_config()["components"] == ("agent", "llm", "runtime")
    assert settings.event_types == ("llm_call",)


@pytest.mark.parametrize("name, value, words", [
    ("NAMEL3SS_DEBUG_ENABLED", "maybe", "true or false"),
    ("NAMEL3SS_DEBUG_BUFFER_SIZE", "lots", "an integer"),
    ("NAMEL3SS_DEBUG_POLICY", "sometimes", "block"),
    ("NAMEL3SS_DEBUG_RETENTION_DAYS", "-1", "an integer >= 0"),
    ("NAMEL3SS_DEBUG_COLOUR", "red", "unknown debug setting"),
])
def test_bad_environment_values_name_the_setting_and_the_source(tmp_path, name, value, words):
    with pytest.raises(TraceConfigError) as info:
        load_settings(tmp_path, environ={name: value})
    message = str(info.value)
    assert name in message and "the environment" in message and words in message


def test_bad_workspace_file_is_named(tmp_path):
    (tmp_path / ".namel3ss").mkdir()
    (tmp_path / ".namel3ss" / "debug.json").write_text("{not json")
    with pytest.raises(TraceConfigError, match="debug.json is not valid JSON"):
        load_settings(tmp_path, environ={})
    workspace(tmp_path, enabled="perhaps")
    with pytest.raises(TraceConfigError, match=r"enabled='perhaps' in .*debug\.json"):
        load_settings(tmp_path, environ={})


def test_trace_latest_names_the_newest_trace(tmp_path):
    for name in ("trace-1.n3t", "trace-2.n3t"):
        (tmp_path / name).write_bytes(b"x")
        point_latest(tmp_path, tmp_path / name)
    assert os.path.realpath(tmp_path / "trace_latest") == str(tmp_path / "trace-2.n3t")


def test_retention_removes_only_old_traces(tmp_path):
    old, new, other = tmp_path / "old.n3t", tmp_path / "new.n3t", tmp_path / "notes.txt"
    for path in (old, new, other):
        path.write_bytes(b"x")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old, (ten_days_ago, ten_days_ago))
    os.utime(other, (ten_days_ago, ten_days_ago))
    assert cleanup(tmp_path, 7) == 1
    assert not old.exists() and new.exists() and other.exists()
    assert cleanup(tmp_path, 0) == 0


def test_unknown_event_types_are_refused_by_name(tmp_path):
    with pytest.raises(TraceConfigError) as info:
        load_settings(tmp_path, environ={"NAMEL3SS_DEBUG_EVENT_TYPES": "llm_call,agent_turn_start,llm_cal"})
    assert "unknown: llm_cal" in str(info.value) and "NAMEL3SS_DEBUG_EVENT_TYPES" in str(info.value)
    ok = load_settings(tmp_path, environ={"NAMEL3SS_DEBUG_EVENT_TYPES": "llm_call_start,agent_turn"})
    assert ok.event_types == ("llm_call_start", "agent_turn")


def test_flush_interval_from_the_environment_reaches_the_tracer(tmp_path):
    from n3core.tracing.config import TraceConfig

    settings = load_settings(tmp_path, environ={"NAMEL3SS_DEBUG_FLUSH_INTERVAL": "0.25"})
    assert settings.flush_interval == 0.25 and DebugSettings().flush_interval == 0.1
    assert TraceConfig.from_mapping(settings.trace_config()).flush_interval == 0.25


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "7200", "nan"])
def test_a_bad_flush_interval_is_refused_by_name(tmp_path, raw):
    with pytest.raises(TraceConfigError) as err:
        load_settings(tmp_path, environ={"NAMEL3SS_DEBUG_FLUSH_INTERVAL": raw})
    message = str(err.value)
    assert "NAMEL3SS_DEBUG_FLUSH_INTERVAL" in message and "the environment" in message
    assert "seconds" in message
