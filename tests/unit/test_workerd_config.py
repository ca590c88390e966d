"""The workerd adapter's generated config (conformance/adapters/workerd_config.py): a pure function."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from conformance.adapters import npm_cache
from conformance.adapters.npm_versions import is_version, semver_key
from conformance.adapters.workerd_config import (
    ALLOW,
    CAPABILITIES,
    COMPATIBILITY_DATE,
    FEATURES,
    INTERPRETER_MODULES,
    NODEJS_COMPAT_BY_DEFAULT,
    WorkerdConfig,
    capnp_string,
    config_for,
    driver_flags,
    render,
    support_for,
    with_drivers,
)

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


def parse_capnp_string(literal: str) -> str:
    """The inverse of ``capnp_string`` for the escapes Cap'n Proto defines."""
    assert literal.startswith('"')
    assert literal.endswith('"')
    body, out, index = literal[1:-1], [], 0
    while index < len(body):
        char = body[index]
        assert char != '"', f"unescaped quote in {literal!r}"
        assert ord(char) >= 0x20, f"raw control character in {literal!r}"
        if char != "\\":
            out.append(char)
            index += 1
            continue
        kind = body[index + 1]
        if kind == "x":
            out.append(chr(int(body[index + 2 : index + 4], 16)))
            index += 4
        else:
            out.append(_ESCAPES[kind])
            index += 2
    return "".join(out)


def field(text: str, name: str) -> str:
    """The capnp string literal assigned to ``name`` (the first one)."""
    match = re.search(rf'\b{name} = ("(?:[^"\\]|\\.)*")', text)
    assert match, f"no {name} in the config"
    return match.group(1)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        'say "hi"',
        "back\\slash",
        "line\nbreak\r\n",
        "tab\there",
        "bell\x07 del\x7f nul\x00",
        "ünïcødé ✓",
        '\\"',
        "trailing\\",
    ],
)
def test_capnp_string_round_trips(value: str) -> None:
    literal = capnp_string(value)
    assert parse_capnp_string(literal) == value
    assert "\n" not in literal


def test_capnp_string_escapes() -> None:
    assert capnp_string('a"b') == '"a\\"b"'
    assert capnp_string("a\\b") == '"a\\\\b"'
    assert capnp_string("a\nb") == '"a\\nb"'
    assert capnp_string("\x01") == '"\\x01"'


def test_connect_reaches_loopback_only() -> None:
    text = render(WorkerdConfig())
    assert ALLOW == ("local",)
    (network,) = re.findall(r'\(name = "internet", network = \((.*?)\n    \)\)', text, re.S)
    assert re.search(r'allow = \["local"\],', network)
    for word in ("public", "private", "network", "unix", "deny"):
        assert f'"{word}"' not in text
    assert text.count("allow =") == 1


def test_trusts_only_the_run_ca() -> None:
    text = render(WorkerdConfig())
    assert 'tlsOptions = (trustedCertificates = [ embed "ca.pem" ])' in text
    assert "trustBrowserCas" not in text
    assert text.count("trustedCertificates") == 1
    assert 'embed "other.pem"' in render(WorkerdConfig(ca_file="other.pem"))


def test_worker_modules_date_and_socket() -> None:
    text = render(WorkerdConfig(profiles=False))
    assert '(name = "main", worker = .adapterWorker)' in text
    modules = re.findall(r'\(name = ("[^"]*"), esModule = embed ("[^"]*")\)', text)
    assert [name for name, _ in modules] == [f'"{name}"' for name in ("worker.js", *INTERPRETER_MODULES)]
    assert all(name == embedded for name, embedded in modules)
    assert parse_capnp_string(field(text, "compatibilityDate")) == COMPATIBILITY_DATE
    assert "compatibilityFlags = []" in text
    assert '(name = "http", address = "127.0.0.1:0", http = (), service = "main")' in text
    assert text.startswith("# Generated")
    assert 'using Workerd = import "/workerd/workerd.capnp";' in text


def test_flags_and_date_are_quoted() -> None:
    text = render(WorkerdConfig(compatibility_date="2026-01-01", compatibility_flags=("a", 'b"c')))
    assert 'compatibilityFlags = ["a", "b\\"c"]' in text
    assert 'compatibilityDate = "2026-01-01"' in text


def test_adapter_binding_round_trips_awkward_text() -> None:
    info = {"version": '1.2"3\\4', "runtime": "workerd 2026-11-17\nsecond line ✓"}
    text = render(WorkerdConfig(adapter_info=info))
    match = re.search(r'\(name = "ADAPTER", json = ("(?:[^"\\]|\\.)*")\)', text)
    assert match
    assert json.loads(parse_capnp_string(match.group(1))) == info


@pytest.mark.parametrize("name", ["", "../worker.js", "/etc/passwd", "dir/worker.js", ".hidden", "a\nb"])
def test_file_names_must_be_plain(name: str) -> None:
    with pytest.raises(ValueError, match="plain file name"):
        render(WorkerdConfig(modules=(name,)))
    with pytest.raises(ValueError, match="plain file name"):
        render(WorkerdConfig(ca_file=name))


def test_needs_a_module() -> None:
    with pytest.raises(ValueError, match="at least one module"):
        render(WorkerdConfig(modules=()))


def test_render_is_pure() -> None:
    config = WorkerdConfig(adapter_info={"version": "1", "runtime": "r"})
    assert render(config) == render(config)


def test_each_release_gets_a_compatibility_date_it_accepts() -> None:
    # workerd refuses a date newer than the binary knows: an old release gets its own date.
    assert support_for("1.20230512.0").compatibility_date == "2023-05-12"
    assert support_for("1.20260426.1").compatibility_date == "2026-04-26"
    assert support_for("1.20261117.1").compatibility_date == "2026-11-17"
    pinned = npm_cache.pinned_dependencies("workerd")["workerd"]
    assert support_for(pinned).compatibility_date == COMPATIBILITY_DATE, "the pin's own date (watch --bump moves it)"
    assert support_for("1.20270101.0").compatibility_date == COMPATIBILITY_DATE  # never past the pinned date
    assert support_for("2.0.0").compatibility_date == COMPATIBILITY_DATE  # no date in the version
    local = support_for("0.0.0-local build")  # not a published version: taken to have everything
    assert (local.unusable, local.capabilities, local.compatibility_date) == (None, CAPABILITIES, COMPATIBILITY_DATE)


def test_releases_before_connect_cannot_run_and_say_why() -> None:
    old = support_for("1.20230404.0")
    assert old.unusable is not None
    assert "cloudflare:sockets" in old.unusable
    assert "first in 1.20230512.0" in old.unusable
    assert support_for("1.20230512.0").unusable is None
    assert support_for("1.20230512.0").capabilities == CAPABILITIES


def test_the_feature_table_is_data_about_published_releases() -> None:
    names = [feature.name for feature in FEATURES]
    assert len(names) == len(set(names))
    for feature in FEATURES:
        assert is_version(feature.since)
        assert feature.needed_by == "run" or feature.needed_by in CAPABILITIES
        assert feature.evidence
        earlier = support_for("1.0.0")
        assert semver_key("1.0.0") < semver_key(feature.since)
        assert feature.needed_by != "run" or earlier.unusable is not None


def test_the_config_of_a_release_carries_what_hello_answers() -> None:
    config = config_for("1.20230512.0", "workerd 2023-05-12")
    assert config.compatibility_date == "2023-05-12"
    assert dict(config.adapter_info) == {
        "name": "workerd",
        "version": "1.20230512.0",
        "runtime": "workerd 2023-05-12",
        "capabilities": list(CAPABILITIES),
    }
    text = render(config)
    assert 'compatibilityDate = "2023-05-12"' in text
    match = re.search(r'\(name = "ADAPTER", json = ("(?:[^"\\]|\\.)*")\)', text)
    assert match is not None
    assert json.loads(parse_capnp_string(match.group(1)))["capabilities"] == list(CAPABILITIES)


def test_profiles_give_a_second_request_and_an_outbound_worker() -> None:
    text = render(WorkerdConfig())
    # The adapter Worker reaches itself (a second request) and the Outbound-Worker profile service.
    main = text.split("const adapterWorker :Workerd.Worker = ", 1)[1].split("\n);", 1)[0]
    assert '(name = "SELF", service = "main")' in main
    assert '(name = "OUTBOUND_WORKER", service = "outbound-worker-profile")' in main
    assert "globalOutbound" not in main, "the adapter Worker itself goes out through the loopback-only network"
    # The profile is the same adapter Worker with a fetch-only Worker as its global outbound.
    profile = text.split("const outboundWorkerProfile :Workerd.Worker = ", 1)[1].split("\n);", 1)[0]
    assert 'globalOutbound = "fetch-only-outbound"' in profile
    assert '(name = "SELF", service = "outbound-worker-profile")' in profile
    assert re.findall(r"embed (\"[^\"]*\")", profile) == [f'"{name}"' for name in ("worker.js", *INTERPRETER_MODULES)]
    assert '(name = "fetch-only-outbound", worker = .fetchOnlyOutbound)' in text
    assert 'esModule = embed "fetch-only-outbound.js"' in text
    # The fetch-only Worker has no outbound of its own configured: the default is the loopback-only network.
    outbound = text.split("const fetchOnlyOutbound :Workerd.Worker = ", 1)[1]
    assert "globalOutbound" not in outbound
    assert "bindings" not in outbound


def test_without_profiles_there_is_only_the_adapter_worker() -> None:
    text = render(WorkerdConfig(profiles=False))
    for name in ("SELF", "OUTBOUND_WORKER", "outbound-worker-profile", "fetch-only-outbound", "globalOutbound"):
        assert name not in text


def test_the_scope_capabilities_are_declared() -> None:
    assert {"request-scope", "global-scope", "outbound-worker"} <= set(CAPABILITIES)


DRIVER_VERSIONS = {"pg": "pg@8.23.1 pg-cloudflare@1.4.1", "smtp": "the suite's own client (_smtp.js)"}


def worker_text(text: str, name: str) -> str:
    return text.split(f"const {name} :Workerd.Worker = ", 1)[1].split("\n);", 1)[0]


def adapter_binding(worker: str) -> dict[str, object]:
    match = re.search(r'\(name = "ADAPTER", json = ("(?:[^"\\]|\\.)*")\)', worker)
    assert match is not None
    info: dict[str, object] = json.loads(parse_capnp_string(match.group(1)))
    return info


@pytest.mark.parametrize(
    ("release", "flags"),
    [("1.20261123.1", []), ("1.20260730.1", ['"nodejs_compat"']), ("1.20260426.1", ['"nodejs_compat"'])],
)
def test_the_drivers_profile_has_the_bundles_and_the_flags_of_the_date(release: str, flags: list[str]) -> None:
    config = with_drivers(config_for(release, "workerd"), DRIVER_VERSIONS)
    text = render(config)
    main = worker_text(text, "adapterWorker")
    assert '(name = "DRIVERS", service = "drivers-profile")' in main
    assert "driver-pg.js" not in main, "the main Worker keeps its modules; the bundles are the profile's"
    assert "compatibilityFlags = []" in main, "the other cases run as before: no flag on the main Worker"
    assert adapter_binding(main)["drivers"] == {name: {"version": v} for name, v in DRIVER_VERSIONS.items()}
    assert "drivers" in adapter_binding(main)["capabilities"]  # type: ignore[operator]
    assert '(name = "drivers-profile", worker = .driversProfile)' in text
    profile = worker_text(text, "driversProfile")
    modules = ("worker.js", *INTERPRETER_MODULES, "driver-pg.js", "driver-smtp.js")
    assert re.findall(r"embed (\"[^\"]*\")", profile) == [f'"{name}"' for name in modules]
    assert f"compatibilityFlags = [{', '.join(flags)}]" in profile
    assert adapter_binding(profile)["drivers"] == {
        "pg": {"version": DRIVER_VERSIONS["pg"], "module": "driver-pg.js"},
        "smtp": {"version": DRIVER_VERSIONS["smtp"], "module": "driver-smtp.js"},
    }
    assert "globalOutbound" not in profile, "the drivers reach the loopback-only network like the adapter"


def test_nodejs_compat_is_named_only_before_it_became_the_default() -> None:
    assert driver_flags(NODEJS_COMPAT_BY_DEFAULT) == ()
    assert driver_flags("2026-08-03") == ("nodejs_compat",)
    assert driver_flags(COMPATIBILITY_DATE) == ()


def test_without_drivers_or_profiles_there_is_no_drivers_profile() -> None:
    assert "drivers-profile" not in render(WorkerdConfig())
    assert "DRIVERS" not in render(replace(with_drivers(WorkerdConfig(), DRIVER_VERSIONS), profiles=False))
