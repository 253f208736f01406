"""clusters.toml and --cluster: what a profile may hold, and the one line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cluster_profiles import ClusterChoiceProblem, chosen_cluster, load_profiles, resolve_cluster


def profiles_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clusters.toml"
    path.write_text(text)
    return path


def test_a_profile_splits_librdkafka_properties_from_kplays_own(tmp_path: Path) -> None:
    path = profiles_file(tmp_path, '''
[prod]
bootstrap.servers = "k1:9093,k2:9093"
"security.protocol" = "SASL_SSL"
enable.ssl.certificate.verification = false
socket.timeout.ms = 5000
"schema.registry.url" = "https://registry.example.com"
"connect.url" = "http://connect:8083"
"schema.registry.basic.auth.user.info" = "me:secret"
read_only = true
"kplay.poll.interval.ms" = 2500
''')
    profile = resolve_cluster("prod", path)
    assert profile.properties == {"bootstrap.servers": "k1:9093,k2:9093", "security.protocol": "SASL_SSL",
                                  "enable.ssl.certificate.verification": "false", "socket.timeout.ms": "5000"}
    assert (profile.read_only, profile.poll_interval_s) == (True, 2.5)
    assert (profile.schema_registry_url, profile.connect_url) == ("https://registry.example.com", "http://connect:8083")
    assert profile.schema_registry_user_info == "me:secret"


def test_bootstrap_servers_need_no_profile() -> None:
    profile = resolve_cluster("k1:9092, [::1]:9093")
    assert profile.properties == {"bootstrap.servers": "k1:9092,[::1]:9093"}
    assert not profile.read_only and profile.schema_registry_url is None


@pytest.mark.parametrize("text, expected", [
    ('[p]\nread_only = "yes"\n"bootstrap.servers" = "k:1"\n', "read_only must be true or false"),
    ('[p]\n"bootstrap.servers" = "k:1"\n"kplay.poll.interval.ms" = -5\n', "a positive number of milliseconds"),
    ('[p]\n"bootstrap.servers" = "k:1"\n"schema.registry.url" = "registry:8081"\n', "an http:// or https:// URL"),
    ('[p]\n"security.protocol" = "SSL"\n', "profile 'p' has no bootstrap.servers"),
    ('p = "k:1"\n', "'p' must be a table of properties"),
    ('[p]\n"bootstrap.servers" = ["k:1"]\n', "bootstrap.servers must be a string, a number or true/false"),
    ('[p]\n"bootstrap.servers" = "k:1"\n"connect.basic.auth.user.info" = "nocolon"\n', 'must be "user:password"'),
])
def test_a_bad_profile_is_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ClusterChoiceProblem) as problem:
        resolve_cluster("p", profiles_file(tmp_path, text))
    assert expected in str(problem.value) and "\n" not in str(problem.value)


def test_a_missing_file_lists_nothing_and_names_itself_when_a_profile_is_asked(tmp_path: Path) -> None:
    assert load_profiles(tmp_path / "none.toml") == {}
    with pytest.raises(ClusterChoiceProblem, match="none.toml does not exist"):
        resolve_cluster("prod", tmp_path / "none.toml")


def test_kplay_cluster_applies_unless_a_data_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPLAY_CLUSTER", "prod")
    assert chosen_cluster(None) == "prod"
    assert chosen_cluster("staging") == "staging"
    assert chosen_cluster(None, data_given=True) is None
    with pytest.raises(ClusterChoiceProblem, match="--data and --cluster"):
        chosen_cluster("staging", data_given=True)
