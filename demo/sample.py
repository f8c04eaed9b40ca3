"""The demo's cast: SAMPLE DATA, plainly marked as such everywhere it appears.

The councils are real English councils of 2013 (names as the GOV.UK register
of local authorities gives them, with their ONS/GSS codes), but every bid,
expression of interest, email address, person and figure here is invented for
the demonstration. The Efficiency Support Grant allocations are invented too:
seven councils stand in for the seven of 2013, with made-up amounts.
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_MARK = "(sample)"
SAMPLE_NOTE = (
    "Sample data: real 2013 council names and codes, but every bid, person, "
    "address and amount is invented for this demonstration."
)


@dataclass(frozen=True)
class Body:
    code: str  # ONS/GSS code, or ORG-… for bodies without one
    name: str  # the register's official name
    short: str  # how people say it
    kind: str = "council"  # council | fire | agency
    register_key: str | None = None  # GB-LAE key, for the 360Giving org-id
    esg_allocation: str | None = None  # pounds; INVENTED for the demo

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.short.lower()).strip("-")

    @property
    def email(self) -> str:
        return f"transformation@{self.slug}.example.org"

    @property
    def escalation_email(self) -> str:
        return f"chief.executive@{self.slug}.example.org"

    @property
    def org_id(self) -> str | None:
        return f"GB-LAE-{self.register_key}" if self.register_key else None


def _c(code: str, key: str, name: str, short: str, esg: str | None = None) -> Body:
    return Body(code=code, name=name, short=short, register_key=key, esg_allocation=esg)


# Districts that share a chief executive and staff: the natural single-operation bidders.
PAIRS: tuple[tuple[Body, Body], ...] = (
    (
        _c("E07000200", "BAB", "Babergh District Council", "Babergh"),
        _c("E07000203", "MSU", "Mid Suffolk District Council", "Mid Suffolk"),
    ),
    (
        _c("E07000205", "SUF", "Suffolk Coastal District Council", "Suffolk Coastal"),
        _c("E07000206", "WAV", "Waveney District Council", "Waveney"),
    ),
    (
        _c("E07000201", "FOR", "Forest Heath District Council", "Forest Heath"),
        _c("E07000204", "SED", "St Edmundsbury Borough Council", "St Edmundsbury"),
    ),
    (
        _c("E07000044", "SHA", "South Hams District Council", "South Hams"),
        _c("E07000047", "WDE", "West Devon Borough Council", "West Devon"),
    ),
    (
        _c("E07000223", "ADU", "Adur District Council", "Adur"),
        _c("E07000229", "WOT", "Worthing Borough Council", "Worthing"),
    ),
)

# Seven councils standing in for 2013's Efficiency Support Grant recipients.
# The allocations are INVENTED for the demo.
ESG_COUNCILS: tuple[Body, ...] = (
    _c("E06000001", "HPL", "Hartlepool Borough Council", "Hartlepool", "1640000"),
    _c("E06000002", "MDB", "Middlesbrough Borough Council", "Middlesbrough", "2120000"),
    _c("E06000009", "BPL", "Blackpool Borough Council", "Blackpool", "1880000"),
    _c("E08000011", "KWL", "Knowsley Metropolitan Borough Council", "Knowsley", "1460000"),
    _c("E08000012", "LIV", "Liverpool City Council", "Liverpool", "2360000"),
    _c("E06000010", "KHL", "Hull City Council", "Hull", "1720000"),
    _c("E06000021", "STE", "Stoke-on-Trent City Council", "Stoke-on-Trent", "1280000"),
)

# The four whole-place Community Budget pilots (the lead of each).
PILOTS: tuple[Body, ...] = (
    _c("E06000050", "CHW", "Cheshire West and Chester Council", "Cheshire West and Chester"),
    _c("E10000012", "ESS", "Essex County Council", "Essex"),
    _c("E08000003", "MAN", "Manchester City Council", "Manchester"),
    _c("E09000013", "HMF", "London Borough of Hammersmith & Fulham", "Hammersmith and Fulham"),
)

OTHER_COUNCILS: tuple[Body, ...] = (
    _c("E09000020", "KEC", "Royal Borough of Kensington and Chelsea", "Kensington and Chelsea"),
    _c("E09000033", "WSM", "City of Westminster", "Westminster"),
    _c("E06000028", "BMH", "Bournemouth Borough Council", "Bournemouth"),
    _c("E06000029", "POL", "Borough of Poole", "Poole"),
    _c("E10000009", "DOR", "Dorset County Council", "Dorset"),
    _c("E10000015", "HRT", "Hertfordshire County Council", "Hertfordshire"),
    _c("E08000019", "SHF", "Sheffield City Council", "Sheffield"),
    _c("E10000030", "SRY", "Surrey County Council", "Surrey"),
    _c("E06000030", "SWD", "Swindon Borough Council", "Swindon"),
    _c("E06000037", "WBK", "West Berkshire Council", "West Berkshire"),
    _c("E06000038", "RDG", "Reading Borough Council", "Reading"),
    _c("E06000041", "WOK", "Wokingham Borough Council", "Wokingham"),
    _c("E06000022", "BAS", "Bath and North East Somerset Council", "Bath and North East Somerset"),
    _c("E06000023", "BST", "Bristol City Council", "Bristol"),
    _c("E06000026", "PLY", "Plymouth City Council", "Plymouth"),
    _c("E06000052", "CON", "Cornwall Council", "Cornwall"),
    _c("E06000051", "SHR", "Shropshire Council", "Shropshire"),
    _c("E06000020", "TFW", "Telford & Wrekin Council", "Telford and Wrekin"),
    _c("E09000007", "CMD", "London Borough of Camden", "Camden"),
    _c("E09000019", "ISL", "London Borough of Islington", "Islington"),
    _c("E09000012", "HCK", "London Borough of Hackney", "Hackney"),
    _c("E09000022", "LBH", "London Borough of Lambeth", "Lambeth"),
    _c("E09000028", "SWK", "London Borough of Southwark", "Southwark"),
    _c("E10000020", "NFK", "Norfolk County Council", "Norfolk"),
    _c("E10000029", "SFK", "Suffolk County Council", "Suffolk"),
    _c("E10000016", "KEN", "Kent County Council", "Kent"),
    _c("E06000035", "MDW", "Medway Council", "Medway"),
    _c("E10000008", "DEV", "Devon County Council", "Devon"),
    _c("E06000027", "TOB", "Torbay Council", "Torbay"),
    _c("E06000018", "NGM", "Nottingham City Council", "Nottingham"),
    _c("E06000016", "LCE", "Leicester City Council", "Leicester"),
    _c("E06000015", "DER", "Derby City Council", "Derby"),
    _c("E06000031", "PTE", "Peterborough City Council", "Peterborough"),
    _c("E08000021", "NET", "Newcastle City Council", "Newcastle"),
    _c("E08000037", "GAT", "Gateshead Metropolitan Borough Council", "Gateshead"),
    _c("E08000024", "SND", "Sunderland City Council", "Sunderland"),
    _c("E08000035", "LDS", "Leeds City Council", "Leeds"),
    _c("E08000032", "BRD", "City of Bradford Metropolitan District Council", "Bradford"),
    _c("E08000006", "SLF", "Salford City Council", "Salford"),
    _c("E08000009", "TRF", "Trafford Metropolitan Borough Council", "Trafford"),
    _c("E07000028", "CAR", "Carlisle City Council", "Carlisle"),
    _c("E07000026", "ALL", "Allerdale Borough Council", "Allerdale"),
)

# Bodies that are not councils: partners in shared arrangements and network areas.
OTHER_BODIES: tuple[Body, ...] = (
    Body("ORG-ESSEX-FIRE", "Essex County Fire and Rescue Service", "Essex Fire", "fire"),
    Body("ORG-CHESHIRE-FIRE", "Cheshire Fire Authority", "Cheshire Fire", "fire"),
    Body(
        "ORG-DSFIRE",
        "Devon and Somerset Fire and Rescue Authority",
        "Devon and Somerset Fire",
        "fire",
    ),
    Body("ORG-PCC-SURREY", "Surrey Police and Crime Commissioner", "Surrey PCC", "agency"),
)


def all_bodies() -> list[Body]:
    out = [b for pair in PAIRS for b in pair]
    return out + list(ESG_COUNCILS) + list(PILOTS) + list(OTHER_COUNCILS) + list(OTHER_BODIES)


# --- people (invented) --------------------------------------------------------


@dataclass(frozen=True)
class Staff:
    name: str
    roles: tuple[str, ...]
    about: str

    @property
    def email(self) -> str:
        return f"{self.name}@casework.example.org"


CASEWORKERS = (
    Staff("carol.hughes", ("caseworker",), "caseworker, TCA bids"),
    Staff("dev.patel", ("caseworker",), "caseworker, network areas"),
)
ASSESSORS = (
    Staff("amara.okafor", ("assessor",), "assessor"),
    Staff("ben.lewis", ("assessor",), "assessor"),
    Staff("chen.wu", ("assessor",), "assessor"),
    Staff("dana.fry", ("assessor",), "assessor"),
)
APPROVERS = (
    Staff("grace.hall", ("approver",), "approver (decides awards; SRO of the network, PSTN)"),
    Staff(
        "henry.shaw",
        ("approver",),
        "approver (selects network areas; SRO of the TCA, so countersigns offers)",
    ),
)
AUDITOR = Staff("iris.nolan", ("auditor",), "auditor (reads history)")
ADMIN = Staff("sam.admin", ("admin",), "administrator")
FINANCE = Staff("fran.okoro", ("finance",), "finance (pays approved payments)")


def council_person(body: Body) -> str:
    """The sign-in name of the lead organisation's contact (a `council` person)."""
    return f"{body.slug}.contact"
