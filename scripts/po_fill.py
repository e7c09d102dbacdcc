"""Fill empty msgstr entries of locale/zh_Hans/LC_MESSAGES/django.po from a translations file.

    python scripts/po_fill.py locale/zh_Hans/translations.tsv

The TSV holds "English<TAB>中文" lines. Existing translations are kept; entries still empty
afterwards are listed so nothing is missed. Run `manage.py makemessages -l zh_Hans` first.
"""

import re
import sys
from pathlib import Path

PO = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


_QUOTED = re.compile(r'^(?:msgid |msgstr |msgid_plural |msgstr\[\d\] )?"(.*)"$')


def _unquote(lines: list[str]) -> str:
    return "".join(m.group(1) for m in map(_QUOTED.match, lines) if m)


def _quote(text: str) -> str:
    return '"' + text + '"'


def main(tsv: str) -> int:
    table = {}
    for line in Path(tsv).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            en, zh = line.split("\t", 1)
            table[en.replace('"', '\\"')] = zh.replace('"', '\\"')
    out, missing = [], []
    blocks = PO.read_text(encoding="utf-8").split("\n\n")
    for block in blocks:
        lines = block.split("\n")
        try:
            i_id = next(i for i, ln in enumerate(lines) if ln.startswith("msgid "))
            i_str = next(i for i, ln in enumerate(lines) if ln.startswith("msgstr"))
        except StopIteration:
            out.append(block)
            continue
        if any(ln.startswith("msgid_plural") for ln in lines):
            # zh-hans has one plural form (nplurals=1): msgstr[0] is the singular msgid's
            # translation, and the msgstr[1] makemessages writes from the template is dropped.
            lines = [ln for ln in lines if not re.match(r"^msgstr\[[1-9]\]", ln)]
            i_plural = next(i for i, ln in enumerate(lines) if ln.startswith("msgid_plural"))
            msgid = _unquote(lines[i_id:i_plural])
            i_str0 = next(i for i, ln in enumerate(lines) if ln.startswith("msgstr[0]"))
            if not _unquote(lines[i_str0 : i_str0 + 1]):
                if msgid in table:
                    lines[i_str0] = "msgstr[0] " + _quote(table[msgid])
                    lines = [ln for ln in lines if ln != "#, fuzzy"]
                else:
                    missing.append(msgid)
            out.append("\n".join(lines))
            continue
        msgid = _unquote(lines[i_id:i_str])
        msgstr = _unquote(lines[i_str:])
        if msgid and not msgstr:
            if msgid in table:
                lines = lines[:i_str] + ["msgstr " + _quote(table[msgid])]
                lines = [ln for ln in lines if ln != "#, fuzzy"]
            else:
                missing.append(msgid)
        out.append("\n".join(lines))
    PO.write_text("\n\n".join(out), encoding="utf-8")
    for m in missing:
        print(f"untranslated: {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
