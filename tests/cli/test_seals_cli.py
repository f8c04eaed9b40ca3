"""`audit keygen|seal|verify|proof` from the command line, as an operator and an auditor use them.

`_check_proof` uses nothing of the project: an auditor holding only the
public key and `audit proof --json` output can run the same steps.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import stat

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _setup(cli, bids: int = 2) -> list[str]:
    """Cases with history, made through the services (the commands under test are audit's):
    five rows each (opened, submitted, and the three automatic due-diligence checks)."""
    from tests.builders import World
    from workflow.storage.db import make_engine

    engine = make_engine(cli.url)
    w = World(engine).cast()
    refs = []
    for _ in range(bids):
        ref = w.bid()
        w.advance(ref, "submit")
        refs.append(ref)
    engine.dispose()
    return refs


def _keyed(cli):
    key = cli.tmp / "audit.pem"
    public = cli.ok("audit", "keygen", "--out", str(key)).out.strip()
    (cli.tmp / "audit.pub").write_text(public + "\n")
    env = {"CASEWORK_AUDIT_KEY": str(key), "CASEWORK_SEAL_DIR": str(cli.tmp / "seals")}
    return key, public, env


# --- what an auditor runs, with the public key alone ------------------------------------
def _canonical(statement: dict) -> bytes:
    fields = ("seal", "tree_size", "root", "sealed_at", "previous", "key")
    fields += tuple(k for k in ("admin_tree_size", "admin_root") if k in statement)
    return json.dumps(
        {k: statement[k] for k in fields}, sort_keys=True, separators=(",", ":")
    ).encode()


def _row_hash(row: dict) -> str:
    body = {
        k: row[k]
        for k in (
            "case",
            "seq",
            "checkpoint",
            "from_state",
            "to_state",
            "trigger",
            "actor",
            "role",
            "reason",
            "at",
            "payload",
            "prev_hash",
        )
    }
    if row["payment"] is not None:  # sealed only on a row that moves a payment
        body["payment"] = row["payment"]
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def _check_proof(proof: dict, public_key: str) -> bool:
    seal, row = proof["seal"], proof["row"]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
    key.verify(base64.b64decode(seal["signature"]), _canonical(seal))  # raises when forged
    if _row_hash(row) != row["hash"]:
        return False
    node = lambda left, right: hashlib.sha256(b"\x01" + left + right).digest()  # noqa: E731
    r = hashlib.sha256(b"\x00" + bytes.fromhex(row["hash"])).digest()
    fn, sn = proof["leaf_index"], seal["tree_size"] - 1  # RFC 9162 section 2.1.3.2
    for p in map(bytes.fromhex, proof["inclusion_path"]):
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == seal["root"]


# --- the tests ---------------------------------------------------------------------------
def test_keygen_writes_a_private_key_only_its_owner_reads_and_prints_the_public_key(cli):
    key, public, _ = _keyed(cli)

    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert len(base64.b64decode(public)) == 32
    again = cli("audit", "keygen", "--out", str(key))
    assert again.code == 1 and "already exists" in again.err


def test_seal_verify_and_a_proof_an_auditor_checks_with_the_public_key_alone(cli):
    first, second = _setup(cli)
    _, public, env = _keyed(cli)

    sealed = cli.ok("audit", "seal", env=env)
    proof = cli.ok("audit", "proof", second, "2", "--json").json()
    verified = cli.ok(
        "audit",
        "verify",
        "--public-key",
        str(cli.tmp / "audit.pub"),
        "--seals",
        str(cli.tmp / "seals"),
    )

    assert sealed.out.startswith("seal 1 (") and "rows 1-10" in sealed.out
    assert json.loads((cli.tmp / "seals" / "seal-000001.json").read_text())["tree_size"] == 10
    assert (
        proof["row"]["case"] == second and proof["leaf_index"] == 6
    )  # its row 2, after the first case's five
    assert _check_proof(proof, public)
    assert not _check_proof({**proof, "row": {**proof["row"], "actor": "mallory"}}, public)
    assert verified.out.splitlines()[-2:] == [
        "1 seal checked, covering rows 1-10",
        "2 cases, 10 rows checked, 0 broken",
    ]


def test_verify_names_a_sealed_row_rewritten_behind_its_back_and_exits_1(cli):
    first, second = _setup(cli)
    _, _, env = _keyed(cli)
    cli.ok("audit", "seal", env=env)
    (cli.tmp / "seals" / "seal-000001.json").rename(cli.tmp / "kept.json")

    db = sqlite3.connect(cli.url.removeprefix("sqlite:///"))  # the administrator's own shell
    db.execute("DROP TRIGGER history_no_update")
    db.execute("UPDATE history SET hash = '00' || substr(hash, 3) WHERE id = 1")
    db.commit()
    db.close()
    ran = cli("audit", "verify")

    assert ran.code == 1
    assert f"{first}: row 1 does not match its hash" in ran.out
    assert "seal 1 (" in ran.out and "rows 1-10 no longer match" in ran.out


def test_seal_without_a_key_is_refused(cli):
    ran = cli("audit", "seal", env={"CASEWORK_AUDIT_KEY": ""})

    assert ran.code == 1 and "CASEWORK_AUDIT_KEY" in ran.err


def test_a_row_not_yet_sealed_has_no_proof(cli):
    (ref,) = _setup(cli, 1)

    ran = cli("audit", "proof", ref, "1", "--json")

    assert ran.code == 1 and "not sealed yet" in ran.err


def _rewrite_actor_and_rehash(url: str, ref: str, seq: int, actor: str) -> None:
    """What a database administrator would do: triggers dropped, one row's actor changed,
    that row's hash and every later one recomputed, the case's head moved on."""
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from workflow.services.chain import GENESIS, seal

    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    db.row_factory = sqlite3.Row
    db.execute("DROP TRIGGER history_no_update")
    (case_id,) = db.execute("SELECT id FROM cases WHERE ref = ?", (ref,)).fetchone()
    prev = GENESIS
    for row in db.execute("SELECT * FROM history WHERE case_id = ? ORDER BY seq", (case_id,)):
        fields = dict(row)
        fields["actor"] = actor if row["seq"] == seq else row["actor"]
        fields["payload"] = json.loads(row["payload"])
        fields["at"] = datetime.fromisoformat(row["at"]).replace(tzinfo=timezone.utc)
        digest = seal(ref, row["seq"], prev, SimpleNamespace(**{**fields, "prev_hash": prev}))
        db.execute(
            "UPDATE history SET actor = ?, prev_hash = ?, hash = ? WHERE id = ?",
            (fields["actor"], prev, digest, row["id"]),
        )
        prev = digest
    db.execute("UPDATE cases SET last_hash = ? WHERE id = ?", (prev, case_id))
    db.commit()
    db.close()


def test_no_proof_is_given_for_a_sealed_row_the_administrator_rewrote(cli):
    first, second = _setup(cli)
    _, public, env = _keyed(cli)
    cli.ok("audit", "seal", env=env)
    _rewrite_actor_and_rehash(cli.url, first, 2, "mallory")

    rewritten = cli("audit", "proof", first, "2", "--json")
    untouched = cli("audit", "proof", second, "1", "--json")
    verified = cli("audit", "verify")

    assert verified.code == 1
    assert verified.out.splitlines() == [
        f"seal 1 ({rewritten_day(cli)}): rows 1-10 no longer match what the seal signed: one "
        "or more of these rows (counted in the order written, all cases together) was "
        "changed, removed or inserted after it was signed",
        "1 seal checked, covering rows 1-10; 1 problem with them, above",
        "2 cases, 10 rows checked, 1 broken",
    ]  # the chains alone show nothing: every hash was recomputed
    assert rewritten.code == 1 and rewritten.out == ""
    assert rewritten.err.strip() == (
        f"{first} row 2 cannot be proved against seal 1 ({rewritten_day(cli)}): the rows it "
        "signed were changed after it (a row rewritten, removed or inserted and the hashes "
        "recomputed), so its path no longer leads to the root it signed (`casework audit "
        "verify` names the rows that no longer match)."
    )
    # A row no one touched is still in the tree the seal signed: its proof is built from the
    # tree kept with the seal, not from the rewritten rows, and holds with the public key alone.
    assert untouched.code == 0 and _check_proof(untouched.json(), public)


def test_no_proof_is_given_for_a_row_changed_without_its_hash(cli):
    (ref,) = _setup(cli, 1)
    _, _, env = _keyed(cli)
    cli.ok("audit", "seal", env=env)
    db = sqlite3.connect(cli.url.removeprefix("sqlite:///"))
    db.execute("DROP TRIGGER history_no_update")
    db.execute("UPDATE history SET actor = 'mallory' WHERE seq = 2")
    db.commit()
    db.close()

    ran = cli("audit", "proof", ref, "2")

    assert ran.code == 1 and ran.out == ""
    assert ran.err.startswith(f"{ref} row 2 has been changed since it was written: ")
    assert len(ran.err.strip().splitlines()) == 1


def rewritten_day(cli) -> str:
    db = sqlite3.connect(cli.url.removeprefix("sqlite:///"))
    (statement,) = db.execute("SELECT statement FROM seals WHERE number = 1").fetchone()
    db.close()
    return json.loads(statement)["sealed_at"][:10]


def test_a_public_key_file_that_is_missing_or_not_a_key_is_one_line_saying_which(cli):
    _setup(cli, 1)
    (cli.tmp / "archive.bin").write_bytes(b"\x1f\x8b\x08\x00binary")

    missing = cli("audit", "verify", "--public-key", str(cli.tmp / "no-such.pub"))
    binary = cli("audit", "verify", "--public-key", str(cli.tmp / "archive.bin"))

    assert missing.code == 1 and missing.err.strip() == (
        f"The public key file {cli.tmp / 'no-such.pub'} cannot be read (no such file or directory)."
    )
    assert binary.code == 1 and binary.err.strip() == (
        f"{cli.tmp / 'archive.bin'} is not a public key file: it should hold the one line of "
        "base64 that `casework audit keygen` printed."
    )
