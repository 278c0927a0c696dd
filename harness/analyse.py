"""`harness analyse`: any image's layers, waste and efficiency, and a CI gate on them.

Waste is harness.layers' (each superseded copy once, hard links once, whatever the whiteouts
point at), so a file written in three layers wastes two copies, not three (dive #684), and a
whiteout for a path no lower layer has changes nothing (dive #715 reads 0 after one).

Efficiency is 1 - wasted / file bytes: the share of the regular-file bytes the layers ship
that the final filesystem shows. dive's is the smallest copy of each path found in more than
one layer over all those copies' bytes, so it counts only repeated paths (an image whose one
big file is deleted once scores as well as one where it is kept) and counts the surviving copy
in the denominator; harness's counts every byte shipped and each superseded copy once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.images import ReadImage
from harness.layers import file_changes, image_layers
from harness.model import AnalysedLayer, ImageAnalysis, RuleOutcome, WastedFile

SCHEMA = json.loads((Path(__file__).parent / "analysis.schema.json").read_text())
"""What `harness analyse --json` prints under "analysis" follows."""
TOP_FILES = 10
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSW(OR)?D|KEY|CREDENTIAL|AUTH)", re.IGNORECASE)
BUILD_ARGS = re.compile(r"^\|(\d+) ")
DIVE_DEFAULTS = {"lowestEfficiency": "0.9", "highestWastedBytes": "disabled",
                 "highestUserWastedPercent": "0.1"}
"""dive's own defaults for a rule its .dive-ci leaves out."""
BYTE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3,
              "gb": 1000**3, "t": 1000**4, "tb": 1000**4, "kib": 1024, "mib": 1024**2,
              "gib": 1024**3, "tib": 1024**4}
"""go-humanize's ParseBytes units, which dive reads highestWastedBytes with."""


class GateError(HarnessError):
    pass


def analyse(image: ReadImage, top: int = TOP_FILES) -> ImageAnalysis:
    layers = image_layers(image.image_id, image.layers, top)
    changes, _ = file_changes(image.layers)
    created_by = layer_history(image.config, len(image.layers))
    rows = [AnalysedLayer(index=row.index, created_by=created_by[row.index],
                          diff_id=row.diff_id, size_bytes=row.unpacked_bytes,
                          compressed_bytes=row.compressed_bytes,
                          compressed_stored=row.compressed_stored,
                          files_added=change.added, files_changed=change.changed,
                          files_removed=change.removed, wasted_bytes=row.wasted_bytes)
            for row, change in zip(layers.layers, changes, strict=True)]
    file_bytes = sum(layer.added_bytes for layer in image.layers)
    user_bytes = sum(row.size_bytes for row in rows[1:])
    waste = [WastedFile(path=w.path, size_bytes=w.size_bytes, written_in=w.added_in,
                        hidden_in=w.removed_in, how=w.how) for w in layers.top_waste]
    return ImageAnalysis(
        reference=image.reference, source=image.source, platform=image.platform,
        image_id=image.image_id, size_bytes=layers.unpacked_bytes,
        compressed_bytes=layers.compressed_bytes, compressed_stored=layers.compressed_stored,
        file_bytes=file_bytes, wasted_bytes=layers.wasted_bytes,
        efficiency=1 - layers.wasted_bytes / file_bytes if file_bytes else 1.0,
        user_wasted_ratio=layers.wasted_bytes / user_bytes if user_bytes else None,
        layers=rows, top_waste=waste)


def layer_history(config: dict[str, Any], count: int) -> list[str]:
    """Each layer's created_by from the config's history (entries that made no layer skipped),
    secret-looking build args shown as ***; blank where the history does not line up."""
    made = [entry.get("created_by", "") for entry in config.get("history") or []
            if not entry.get("empty_layer")]
    if len(made) != count:
        return [""] * count
    return [redact(text) for text in made]


def redact(created_by: str) -> str:
    """Values of build args and ENV whose names look secret (TOKEN, PASSWORD, KEY...) as ***:
    the history records `|2 NAME=value ...` for every build arg a RUN saw."""
    def hide(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{name}=***" if SECRET_NAME.search(name) else match.group(0)
    return re.sub(r"\b([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S+)", hide, created_by)


# -- the CI gate ---------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Limits:
    max_wasted_bytes: int | None = None
    max_wasted_percent: float | None = None
    """Of the user layers' bytes (every layer but the first), as dive's highestUserWastedPercent."""
    min_efficiency: float | None = None
    max_size: int | None = None
    max_layers: int | None = None

    def any(self) -> bool:
        return any(v is not None for v in vars(self).values())


def gate(analysis: ImageAnalysis, limits: Limits) -> list[RuleOutcome]:
    """PASS/FAIL for each limit given."""
    outcomes = []
    if limits.min_efficiency is not None:
        outcomes.append(RuleOutcome(rule="min efficiency", limit=f"{limits.min_efficiency:.4f}",
                                    value=f"{analysis.efficiency:.4f}",
                                    passed=analysis.efficiency >= limits.min_efficiency))
    if limits.max_wasted_bytes is not None:
        outcomes.append(RuleOutcome(rule="max wasted bytes", limit=f"{limits.max_wasted_bytes:,}",
                                    value=f"{analysis.wasted_bytes:,}",
                                    passed=analysis.wasted_bytes <= limits.max_wasted_bytes))
    if limits.max_wasted_percent is not None:
        ratio = analysis.user_wasted_ratio or 0.0
        outcomes.append(RuleOutcome(rule="max wasted percent (of user layers)",
                                    limit=f"{limits.max_wasted_percent:.2f} %",
                                    value=f"{100 * ratio:.2f} %",
                                    passed=100 * ratio <= limits.max_wasted_percent))
    if limits.max_size is not None:
        outcomes.append(RuleOutcome(rule="max size", limit=f"{limits.max_size:,}",
                                    value=f"{analysis.size_bytes:,}",
                                    passed=analysis.size_bytes <= limits.max_size))
    if limits.max_layers is not None:
        outcomes.append(RuleOutcome(rule="max layers", limit=str(limits.max_layers),
                                    value=str(len(analysis.layers)),
                                    passed=len(analysis.layers) <= limits.max_layers))
    return outcomes


def dive_ci_limits(path: Path) -> Limits:
    """The limits a dive `.dive-ci` file sets (rules.lowestEfficiency, highestWastedBytes,
    highestUserWastedPercent), with dive's defaults for those it leaves out; `disabled` turns
    one off, as in dive."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise GateError(f"{path}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise GateError(f"{path}: not YAML ({error})") from None
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, dict):
        raise GateError(f"{path}: expected a `rules:` mapping (lowestEfficiency, "
                        "highestWastedBytes, highestUserWastedPercent)")
    unknown = set(rules) - set(DIVE_DEFAULTS)
    if unknown:
        raise GateError(f"{path}: unknown rule(s) {', '.join(sorted(unknown))}; expected "
                        f"{', '.join(DIVE_DEFAULTS)}")
    values = {key: str(rules.get(key, default)).strip()
              for key, default in DIVE_DEFAULTS.items()}

    def ratio(key: str) -> float | None:
        if values[key] == "disabled":
            return None
        try:
            return float(values[key])
        except ValueError:
            raise GateError(f"{path}: rules.{key}: expected a ratio from 0 to 1 or "
                            f"`disabled`, got {values[key]!r}") from None

    efficiency, user_wasted = ratio("lowestEfficiency"), ratio("highestUserWastedPercent")
    wasted = values["highestWastedBytes"]
    return Limits(min_efficiency=efficiency,
                  max_wasted_percent=None if user_wasted is None else 100 * user_wasted,
                  max_wasted_bytes=None if wasted == "disabled"
                  else parse_bytes(wasted, f"{path}: rules.highestWastedBytes"))


def parse_bytes(text: str, where: str) -> int:
    """`20MB`, `1.5 GiB`, `1000` (bytes): decimal units as 1000s, binary ones as 1024s."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).lower() not in BYTE_UNITS:
        raise GateError(f"{where}: expected a size such as 20MB, 1.5GiB or 1000, got {text!r}")
    return int(float(match.group(1)) * BYTE_UNITS[match.group(2).lower()])
