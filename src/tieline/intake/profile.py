"""Import profiles: which files, which columns, which transforms, which key.

A profile is a TOML file. A new export layout needs a new profile, not code.
Shipped profiles live beside this module in `profiles/`; `tieline import`
takes a shipped profile's name or the path of a profile file.

```toml
name = "masterformat"
system = "masterformat"      # the origin system of the records it makes
builder = "records"          # how tables become records (see builders)

[options]                    # the builder's own settings

[[tables]]
name = "codes"
file = "masterformat-2016-with-levels.csv"   # a glob, matched in each folder given
kind = "cost_code"                           # for the generic `records` builder
key = ["code"]                               # the natural key of a row
[tables.csv]                                 # all optional: detected when left out
encoding = "utf-8"
delimiter = ","
decimal = "."                                # or ","
thousands = ""                               # "," "." " " or "'" ("" for none)
header_row = 1                               # the line the header is on
[tables.xlsx]                                # for workbooks, all optional
sheet = "Bid Tabulation"                     # default: the first sheet
header_row = 7                               # default: detected
decimal = "."                                # for numbers held as text
[tables.columns]
code = { column = "code", type = "str", required = true }
name = { column = "label", transforms = ["strip"] }
level = { column = "level", type = "int" }
[tables.constants]
system = "masterformat-2016"
[tables.hierarchy]                           # optional: derive each row's parent
rule = "zero_trailing"                       # or "drop_last_segment"
code = "code"                                # the field holding the code
parent = "parent_code"                       # the field the parent's code goes to
level = "level"                              # optional: a parent's level is lower
```

Columns are found by their header text, ignoring case and stray spaces
(`"Units "` finds `units`), or by position (`column = 3`, counted from 1).
Without `header_row`, the header is the first of the file's first 20
non-blank rows that holds every named column.
TODO: a file without a header row cannot be read yet (its first row would
be taken as the header); such an export needs a header added by hand.

Hierarchy rules, both generic (no code system is built in):
- `zero_trailing`: the parent is the nearest code in the table reached by
  setting the code's last non-zero digit to zero, again and again, ignoring
  separators and trailing zeros: "03 31 13" tries "03 31 10", "03 31 00",
  "03 30 00", "03 00 00"; "00 24 13.13" tries "00 24 13.10", "00 24 13".
- `drop_last_segment`: the parent is the nearest code in the table reached by
  dropping the last `separator`-delimited segment: "1.7.Z10" tries "1.7", "1".
With `level`, a candidate counts only if its level is lower than the code's
(so "00 01 15" at level 4 skips its sibling "00 01 10" at level 4).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tieline.errors import ConfigurationError

ColumnType = Literal["str", "int", "decimal", "date", "bool"]


class ColumnSpec(BaseModel):
    """How one field is read from one source column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | int
    type: ColumnType = "str"
    required: bool = False
    transforms: tuple[str, ...] = ("strip",)
    date_format: str | None = None
    default: Any = None

    @field_validator("transforms")
    @classmethod
    def _known_transforms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Imported here: `_cells` reads column specs, so it imports this module.
        from tieline.intake._cells import TRANSFORMS

        unknown = [t for t in value if t.partition(":")[0] not in TRANSFORMS]
        if unknown:
            known = ", ".join(sorted(TRANSFORMS))
            raise ValueError(f"unknown transforms {unknown} (known: {known})")
        return value


class CsvOptions(BaseModel):
    """CSV dialect; every part is detected from the file when left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: str | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    decimal: Literal[".", ","] | None = None
    thousands: Literal["", ",", ".", " ", "'"] | None = None
    header_row: int | None = Field(default=None, ge=1)


class XlsxOptions(BaseModel):
    """Which sheet of a workbook, where its header is, numbers held as text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sheet: str | None = None
    header_row: int | None = Field(default=None, ge=1)
    decimal: Literal[".", ","] | None = None
    thousands: Literal["", ",", ".", " ", "'"] | None = None


class HierarchySpec(BaseModel):
    """How each row of a table finds its parent's code (see the module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Literal["zero_trailing", "drop_last_segment"]
    code: str = "code"
    parent: str = "parent_code"
    level: str | None = None
    separator: str = Field(default=".", min_length=1)


class TableSpec(BaseModel):
    """One input table: a file pattern, its columns and its natural key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    file: str
    format: Literal["csv", "xlsx", "json", "ubl"] | None = None
    kind: str | None = None
    key: tuple[str, ...] = ()
    required: bool = True
    csv: CsvOptions = CsvOptions()
    xlsx: XlsxOptions = XlsxOptions()
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    constants: dict[str, Any] = Field(default_factory=dict)
    hierarchy: HierarchySpec | None = None

    @model_validator(mode="after")
    def _key_is_a_column(self) -> TableSpec:
        missing = [k for k in self.key if k not in self.columns]
        if missing:
            raise ValueError(f"table {self.name}: key {missing} names no column")
        return self

    @model_validator(mode="after")
    def _hierarchy_reads_columns(self) -> TableSpec:
        if self.hierarchy is None:
            return self
        named = [self.hierarchy.code, self.hierarchy.level]
        missing = [n for n in named if n is not None and n not in self.columns]
        if missing:
            raise ValueError(f"table {self.name}: hierarchy {missing} names no column")
        return self

    def format_for(self, path: Path) -> str:
        """The table's format, from the profile or else the file's suffix."""
        if self.format:
            return self.format
        suffix = path.suffix.lower().lstrip(".")
        return {"xml": "ubl", "xlsx": "xlsx", "json": "json"}.get(suffix, "csv")


class Profile(BaseModel):
    """A whole import profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    system: str
    builder: str = "records"
    options: dict[str, Any] = Field(default_factory=dict)
    tables: tuple[TableSpec, ...] = Field(min_length=1)

    def table(self, name: str) -> TableSpec:
        """The table spec called `name`."""
        for table in self.tables:
            if table.name == name:
                return table
        raise ConfigurationError(f"profile {self.name} has no table {name!r}")


def shipped_profiles() -> list[str]:
    """Names of the profiles that ship with tieline."""
    folder = resources.files("tieline.intake") / "profiles"
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name, or a profile file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        text = path.read_text(encoding="utf-8")
        where = str(path)
    else:
        entry = resources.files("tieline.intake") / "profiles" / f"{name_or_path}.toml"
        if not entry.is_file():
            known = ", ".join(shipped_profiles())
            raise ConfigurationError(
                f"no profile {name_or_path!r}: give a .toml file or one of: {known}"
            )
        text = entry.read_text(encoding="utf-8")
        where = f"shipped profile {name_or_path}"
    try:
        return Profile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(f"{where} is not valid TOML: {err}") from err
    except ValidationError as err:
        raise ConfigurationError(
            f"{where} is not a valid profile: {_first_problem(err)}"
        ) from err


def _first_problem(err: ValidationError) -> str:
    """The first validation error on one line: where in the profile, and why."""
    errors = err.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}"
