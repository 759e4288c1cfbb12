"""`ServerConfig`: environment variables, flag overrides, validation, and the worker hand-off."""

from __future__ import annotations

import pytest

from autocomplete.server.config import ServerConfig
from autocomplete.server.errors import ConfigError


def test_every_setting_is_read_from_its_qac_variable() -> None:
    config = ServerConfig.from_env(
        {
            "QAC_INDEX": "/srv/index",
            "QAC_REDIS_URL": "redis://cache:6379/0",
            "QAC_HOST": "0.0.0.0",
            "QAC_PORT": "9000",
            "QAC_WORKERS": "4",
            "QAC_ALLOWED_ORIGINS": "https://a.example, https://b.example/",
            "QAC_MAX_CONNECTIONS": "20",
            "QAC_RATE_PER_S": "12.5",
            "QAC_LOG_LEVEL": "WARNING",
            "QAC_LOG_FORMAT": "JSON",
        }
    )
    assert config.index == "/srv/index"
    assert config.redis_url == "redis://cache:6379/0"
    assert (config.host, config.port, config.workers) == ("0.0.0.0", 9000, 4)
    assert config.allowed_origins == ("https://a.example", "https://b.example")
    assert config.max_connections == 20
    assert config.rate_per_s == 12.5
    assert config.log_level == "warning"
    assert config.log_format == "json"


def test_flags_override_the_environment_and_unset_flags_fall_through() -> None:
    env = {"QAC_INDEX": "/from/env", "QAC_PORT": "9000", "QAC_WORKERS": "3"}
    config = ServerConfig.from_env(env, {"index": "/from/flag", "port": None, "workers": 1})
    assert (config.index, config.port, config.workers) == ("/from/flag", 9000, 1)


def test_empty_variables_mean_the_default() -> None:
    config = ServerConfig.from_env({"QAC_INDEX": "i", "QAC_PORT": " ", "QAC_REDIS_URL": ""})
    assert config.port == 8000
    assert config.redis_url is None


def test_to_env_round_trips_for_worker_processes() -> None:
    config = ServerConfig(
        index="/srv/i",
        redis_url="redis://r/1",
        workers=2,
        allowed_origins=("https://a.example", "http://b:81"),
        store_read_timeout_s=0.25,
        static_dir="/srv/web",
    )
    assert ServerConfig.from_env(config.to_env()) == config
    assert ServerConfig.from_env(ServerConfig(index="x").to_env()) == ServerConfig(index="x")


def test_missing_index_names_the_flag_and_the_variable() -> None:
    with pytest.raises(ConfigError, match="--index DIR or set QAC_INDEX"):
        ServerConfig.from_env({})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QAC_PORT": "eighty"}, "QAC_PORT: cannot read 'eighty' as int"),
        ({"QAC_PORT": "70000"}, "port must be 0..65535"),
        ({"QAC_WORKERS": "0"}, "QAC_WORKERS must be >= 1"),
        ({"QAC_RATE_PER_S": "-1"}, "QAC_RATE_PER_S must be > 0"),
        ({"QAC_MAX_K": "51"}, "QAC_MAX_K <= 50"),
        ({"QAC_DEFAULT_K": "20", "QAC_MAX_K": "10"}, "QAC_DEFAULT_K <= QAC_MAX_K"),
        ({"QAC_MAX_QUERY_CHARS": "5000"}, "session store's limit"),
        ({"QAC_LOG_LEVEL": "loud"}, "unknown level"),
        ({"QAC_LOG_FORMAT": "xml"}, "QAC_LOG_FORMAT must be one of text, json, got 'xml'"),
    ],
)
def test_malformed_settings_are_config_errors_that_say_which(env: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServerConfig.from_env({"QAC_INDEX": "i", **env})


def test_config_errors_are_value_errors_so_the_cli_exits_2() -> None:
    assert issubclass(ConfigError, ValueError)


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown server settings: colour"):
        ServerConfig.from_env({"QAC_INDEX": "i"}, {"colour": "blue"})


def test_blocklist_and_fresh_settings_come_from_the_environment_and_round_trip() -> None:
    config = ServerConfig.from_env(
        {
            "QAC_INDEX": "i",
            "QAC_BLOCKLIST": "/etc/qac/blocklist.txt",
            "QAC_FRESH_REFRESH_S": "0.5",
            "QAC_FRESH_HALF_LIFE_S": "3600",
            "QAC_FRESH_MAX_ITEMS": "500",
        }
    )
    assert config.blocklist == "/etc/qac/blocklist.txt"
    assert (config.fresh_refresh_s, config.fresh_half_life_s, config.fresh_max_items) == (
        0.5,
        3600.0,
        500,
    )
    assert ServerConfig.from_env(config.to_env()) == config
    defaults = ServerConfig.from_env({"QAC_INDEX": "i", "QAC_BLOCKLIST": ""})
    assert defaults.blocklist is None and defaults.fresh_refresh_s == 2.0
    assert defaults.fresh_half_life_s == 6 * 3600.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QAC_FRESH_REFRESH_S": "-1"}, "QAC_FRESH_REFRESH_S must be >= 0"),
        ({"QAC_FRESH_HALF_LIFE_S": "0"}, "QAC_FRESH_HALF_LIFE_S must be > 0"),
        ({"QAC_FRESH_MAX_ITEMS": "0"}, "QAC_FRESH_MAX_ITEMS must be >= 1"),
    ],
)
def test_fresh_settings_are_checked(env: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServerConfig.from_env({"QAC_INDEX": "i", **env})
