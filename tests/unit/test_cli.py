"""The ``python -m minutebill`` command line."""

from __future__ import annotations

import errno
import io
import sys
from pathlib import Path

import pytest

from minutebill.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "catalog.toml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def lakh_catalog(tmp_path: Path) -> Path:
    """The example catalog with an enterprise price of ₹1,50,000, where locales group digits
    differently (Indian lakh grouping against thousands)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count('price = "24999.00"') == 1
    path = tmp_path / "lakh.toml"
    path.write_text(text.replace('price = "24999.00"', 'price = "150000.00"'), encoding="utf-8")
    return path


def test_catalog_prints_plans_bundles_and_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "catalog", str(EXAMPLE))
    assert code == 0
    assert err == ""
    assert "₹7,999.00" in out
    for text in ("Plans", "Add-on bundles", "Number offers", "Pro", "Nexus", "Elite"):
        assert text in out
    assert "300 minutes for ₹449.00" in out
    assert "concurrent calls 10, phone numbers 5, queue priority 5" in out
    assert "[SMS, VOICE]" in out
    assert "₹500.00 / month + ₹1,000.00 up front" in out


def test_the_default_locale_is_en_in(
    capsys: pytest.CaptureFixture[str], lakh_catalog: Path
) -> None:
    _, default, _ = run(capsys, "catalog", str(lakh_catalog))
    _, en_in, _ = run(capsys, "catalog", str(lakh_catalog), "--locale", "en_IN")
    assert default == en_in
    assert "₹1,50,000.00" in default


def test_locales_format_prices_their_own_way(
    capsys: pytest.CaptureFixture[str], lakh_catalog: Path
) -> None:
    _, hindi, _ = run(capsys, "catalog", str(lakh_catalog), "--locale", "hi_IN")
    _, american, _ = run(capsys, "catalog", str(lakh_catalog), "--locale", "en_US")
    _, german, _ = run(capsys, "catalog", str(lakh_catalog), "--locale", "de_DE")
    assert "₹1,50,000.00" in hindi
    assert "₹150,000.00" in american
    assert "₹1,50,000.00" not in american
    assert "150.000,00\xa0₹" in german
    assert "7.999,00\xa0₹" in german
    assert "20.000 minutes" in german  # counts are formatted for the locale too
    assert "20,000 minutes" in american


def test_a_broken_file_exits_2_and_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace('currency = "INR"', 'currency = "XYZ"'),
        encoding="utf-8",
    )
    code, out, err = run(capsys, "catalog", str(path))
    assert code == 2
    assert out == ""
    assert str(path) in err
    assert "currency" in err
    assert err.startswith("error: ")


def test_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    code, out, err = run(capsys, "catalog", str(path))
    assert (code, out) == (2, "")
    assert str(path) in err


def test_an_unknown_locale_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["catalog", str(EXAMPLE), "--locale", "xx_YY"])
    assert caught.value.code == 2
    _, err = capsys.readouterr()
    assert "unknown locale 'xx_YY'" in err


@pytest.mark.parametrize("argv", [[], ["bill"], ["catalog"]], ids=repr)
def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


class FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_output_the_system_refuses_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", FullDisk())
    assert main(["catalog", str(EXAMPLE)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "No space left on device" in err
    assert "Traceback" not in err
