"""Drawing one version of a grant agreement as a PDF, with fpdf2.

fpdf2 is pure Python and installs from pip alone (no Pango or Cairo from the
system, as WeasyPrint needs), and writes a small, standard PDF a browser and
any reader open. The standard PDF fonts cover Windows-1252 only (letters,
the pound sign, curly quotes, dashes); any other character a council typed is
written as its nearest plain letter, or "?", rather than refused: the text as
typed stays in the database and on the web.

The same text and moment always make the same bytes (the PDF's dates are the
agreement's own), so a version drawn again can be compared with the one kept.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, time, timezone

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from states import dates
from states.agreement import AgreementText
from states.money import pounds

__all__ = ["draw", "plain"]

_ENCODING = "windows-1252"
# Characters people type that Windows-1252 lacks, written as it can.
_NEAREST = {
    "\u2212": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u2192": "->",
}


def plain(text: str) -> str:
    """`text` as the standard fonts can draw it (see the module's text)."""
    out = []
    for ch in text:
        ch = _NEAREST.get(ch, ch)
        try:
            ch.encode(_ENCODING)
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        base = unicodedata.normalize("NFKD", ch).encode(_ENCODING, "ignore").decode(_ENCODING)
        out.append(base or "?")
    return "".join(out)


class _Document(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4")
        self._footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 10, plain(f"{self._footer_text} - page {self.page_no()} of {{nb}}"), align="C")


def draw(text: AgreementText) -> bytes:
    """The agreement `text` as the bytes of a PDF."""
    made = datetime.combine(text.made_on, time(0, 0), tzinfo=timezone.utc)
    pdf = _Document(f"Grant agreement {text.ref}, version {text.version}")
    pdf.core_fonts_encoding = _ENCODING
    pdf.set_creation_date(made)
    pdf.set_title(plain(f"Grant agreement {text.ref} version {text.version}"))
    pdf.set_author(plain(text.parties[0].name if text.parties else ""))
    pdf.set_subject(plain(text.title))
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()

    def heading(words: str, size: int = 13) -> None:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", size)
        pdf.multi_cell(0, 6.5, plain(words), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", size=10)

    def para(words: str) -> None:
        pdf.multi_cell(0, 5, plain(words), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(0.8)

    heading("Grant agreement", 18)
    para(f"{text.programme}")
    para(f"Reference {text.ref}, version {text.version}, made {dates.day(text.made_on)}.")
    if text.variation:
        before = (
            f" (from {pounds(text.previous_amount_pence)})"
            if text.previous_amount_pence is not None
            and text.previous_amount_pence != text.amount_pence
            else ""
        )
        para(f"This version follows variation {text.variation}{before}: {text.variation_reason}")

    heading("1. The award")
    para(f"{text.title}")
    para(
        f"Amount: {pounds(text.amount_pence)}."
        + (f" Category: {text.category}." if text.category else "")
    )
    para(
        f"The award ends on {dates.day(text.end_on)}."
        if text.end_on
        else "The award ends when its last monitoring return is accepted."
    )

    heading("2. The parties")
    for party in text.parties:
        code = f" ({party.code})" if party.code else ""
        para(f"{party.role}: {party.name}{code}")

    heading("3. Conditions")
    for n, condition in enumerate(text.conditions, start=1):
        para(f"3.{n}. {condition}")

    heading("4. Payment schedule")
    if text.schedule:
        with pdf.table(
            col_widths=(14, 16, 90, 40), text_align=("LEFT", "LEFT", "LEFT", "RIGHT"), line_height=6
        ) as table:
            table.row(["", "Share", "When", "Amount"])
            for line in text.schedule:
                table.row(
                    [
                        line.label,
                        line.share,
                        plain(line.event + (" (paid)" if line.paid else "")),
                        pounds(line.amount_pence),
                    ]
                )
        pdf.ln(2)
        para(f"The payments add up to {pounds(sum(s.amount_pence for s in text.schedule))}.")
    else:
        para(text.no_payments or "No payments are scheduled under this agreement.")

    heading("5. Monitoring returns")
    for due in text.returns:
        when = f"due {dates.day(due.due)}" if due.due else due.words
        para(f"{due.label}: {when}")
    if not text.returns:
        para("No monitoring returns are asked for.")

    if text.variation:
        heading("6. This version")
        para(
            f"This version was drawn up when variation {text.variation} was approved; it "
            f"replaces the earlier versions, which stay readable. The SHA-256 of this "
            f"document is recorded in the case's history with the approval."
        )
    else:
        heading("6. Acceptance")
        para(
            f"The lead council accepts this agreement, version {text.version}, by accepting "
            f"the award in casework. The SHA-256 of this document is recorded in the case's "
            f"history when it is drawn up and again when it is accepted."
        )
    return bytes(pdf.output())
