"""Text inputs as Windows, Excel and old Mac tools write them, for every text reader: a UTF-8
byte-order mark, CRLF or CR line ends, blank lines at the end and no final newline read as
the clean file does (checked against the values written); UTF-16 and Latin-1 files, and
European Excel CSV (';' between fields), are refused in one line naming the encoding or the
separator and the fix. The shared home is :mod:`biovae.data._text`."""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from biovae.applications.variants.alignment import read_alignment
from biovae.cli.variants_cmds import _read_mutants
from biovae.config import load_toml
from biovae.config_io import json_object
from biovae.data import decode, read_dataset
from biovae.data.fasta import read_fasta_records
from biovae.data.tables import read_obs_table
from biovae.errors import ConfigError, DataError
from tests.cli._run import run

NAN = np.nan
TABLE = "id\tg1\tg2\nr1\t1\t2.5\nr2\t0\t3\n"
TABLE_TRUTH = (["r1", "r2"], ["g1", "g2"], [[1.0, 2.5], [0.0, 3.0]])
VCF = (
    "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
    "1\t100\trs1\tA\tG\t.\t.\t.\tGT\t0/1\t1|1\n1\t200\trs2\tC\tT\t.\t.\t.\tGT\t0/0\t./.\n"
)
# the PLINK 1.07 documentation's example: six individuals, three SNPs (see test_plink.py)
FAM = "1 1 0 0 1 0\n1 2 0 0 1 0\n1 3 1 2 1 2\n2 1 0 0 1 0\n2 2 0 0 1 2\n2 3 1 2 1 2\n"
BIM = "1\tsnp1\t0\t1\tG\tA\n1\tsnp2\t0\t2\t1\t2\n1\tsnp3\t0\t3\tA\tC\n"
BED = bytes.fromhex("6c1b01dc0fe70f6b01")
A1_COPIES = [[2, 0, 0], [0, NAN, 1], [NAN, 1, 1], [0, 0, NAN], [0, 0, NAN], [0, 0, 2]]
PLINK_IDS = ["1_1", "1_2", "1_3", "2_1", "2_2", "2_3"]
BARCODES = "AAAC-1\nAAAG-1\n"
FEATURES = "G1\tA\tGene Expression\nG2\tB\tGene Expression\n"
COUNTS = [[0, 3], [2, 0]]  # cells x genes


def _dataset(ds) -> tuple:
    return list(ds.ids), list(ds.features), np.asarray(ds.x, dtype=np.float64).tolist()


def _with_table(name: str, text: str, tmp: Path) -> Path:
    (tmp / name).write_text(text)
    return tmp / name


def _obs(path: Path) -> list[str]:
    ds = read_dataset(_with_table("x.tsv", TABLE, path.parent), obs_path=str(path))
    return list(ds.obs["group"])


def _plink(which: str) -> Callable[[Path], tuple]:
    def read(path: Path) -> tuple:
        bed = path.with_suffix(".bed")
        bed.write_bytes(BED)
        other = "bim" if which == "fam" else "fam"
        path.with_suffix(f".{other}").write_text({"fam": FAM, "bim": BIM}[other])
        return _dataset(read_dataset(bed))

    return read


def _tenx(which: str) -> Callable[[Path], tuple]:
    def read(path: Path) -> tuple:
        folder = path.parent
        scipy.io.mmwrite(str(folder / "matrix.mtx"), sp.coo_matrix(np.array(COUNTS).T))
        for name, text in (("barcodes", BARCODES), ("features", FEATURES)):
            if name != which:
                (folder / f"{name}.tsv").write_text(text)
        ds = read_dataset(folder)
        return list(ds.ids), list(ds.features), ds.x.toarray().tolist()

    return read


def _sequences(path: Path) -> tuple:
    ds = read_dataset(path, sequence_column="seq")
    return list(ds.ids), decode(ds.x, ds.alphabet)


def _mutants(path: Path) -> dict:
    return _read_mutants(str(path)).to_dict("list")


@dataclass(frozen=True)
class Case:
    """A text input: its file name, clean text, reader, what the reader must give, and one
    field to write with a non-ASCII letter (``latin``: old, new, line) for the Latin-1 case."""

    name: str
    text: str
    read: Callable[[Path], object]
    truth: object
    latin: tuple[str, str, int]


CASES = [
    Case("t.tsv", TABLE, lambda p: _dataset(read_dataset(p)), TABLE_TRUTH, ("r2", "Mü", 3)),
    Case(
        "t.csv",
        TABLE.replace("\t", ","),
        lambda p: _dataset(read_dataset(p)),
        TABLE_TRUTH,
        ("r2", "Mü", 3),
    ),
    Case("obs.tsv", "sample\tgroup\nr2\tb\nr1\ta\n", _obs, ["a", "b"], ("\tb", "\tü", 2)),
    Case(
        "s.tsv",
        "id\tseq\ns1\tACGT\ns2\tAC-T\n",
        _sequences,
        (["s1", "s2"], ["ACGT", "AC-T"]),
        ("s2", "sü", 3),
    ),
    Case(
        "f.fa",
        ">a first\nACGT\n>b\nAC\nGT\n",
        lambda p: (lambda r: (list(r.ids), list(r.seqs)))(read_fasta_records(p)),
        (["a", "b"], ["ACGT", "ACGT"]),
        ("first", "für", 1),
    ),
    Case(
        "f.sto",
        "# STOCKHOLM 1.0\n#=GF DE beta\ns1 ACDEF\ns2 ACD-F\n//\n",
        lambda p: (lambda a: (list(a.ids), decode(a.codes, a.alphabet)))(read_alignment(p)),
        (["s1", "s2"], ["ACDEF", "ACD-F"]),
        ("beta", "ß", 2),
    ),
    Case(
        "v.vcf",
        VCF,
        lambda p: _dataset(read_dataset(p)),
        (["S1", "S2"], ["rs1", "rs2"], [[1.0, 0.0], [2.0, NAN]]),
        ("S2", "Sü", 2),
    ),
    Case(
        "g.fam",
        FAM,
        _plink("fam"),
        (PLINK_IDS, ["snp1", "snp2", "snp3"], A1_COPIES),
        ("2 3 1", "ü 3 1", 6),
    ),
    Case(
        "g.bim",
        BIM,
        _plink("bim"),
        (PLINK_IDS, ["snp1", "snp2", "snp3"], A1_COPIES),
        ("snp3", "ü3", 3),
    ),
    Case(
        "barcodes.tsv",
        BARCODES,
        _tenx("barcodes"),
        (["AAAC-1", "AAAG-1"], ["G1", "G2"], COUNTS),
        ("AAAG", "ÄAAG", 2),
    ),
    Case(
        "features.tsv",
        FEATURES,
        _tenx("features"),
        (["AAAC-1", "AAAG-1"], ["G1", "G2"], COUNTS),
        ("\tB\t", "\tü\t", 2),
    ),
    Case(
        "m.csv",
        "mutant,DMS_score\nM1A,0.5\nK2R:S3T,-1.25\n",
        _mutants,
        {"mutant": ["M1A", "K2R:S3T"], "DMS_score": ["0.5", "-1.25"]},
        ("DMS_score", "Müller", 1),
    ),
    Case(
        "c.toml",
        "# fit\n[train]\nepochs = 3\n\n[model]\nlatent_dim = 4\n",
        load_toml,
        {"train": {"epochs": 3}, "model": {"latent_dim": 4}},
        ("# fit", "# für", 1),
    ),
    Case(
        "c.json",
        '{\n  "train": {"epochs": 3},\n  "name": "x"\n}\n',
        json_object,
        {"train": {"epochs": 3}, "name": "x"},
        ('"x"', '"ü"', 3),
    ),
]
IDS = [c.name for c in CASES]

VARIANTS: dict[str, Callable[[bytes], bytes]] = {
    "clean": lambda b: b,
    "utf8-bom": lambda b: codecs.BOM_UTF8 + b,
    "crlf": lambda b: b.replace(b"\n", b"\r\n"),
    "bom-crlf": lambda b: codecs.BOM_UTF8 + b.replace(b"\n", b"\r\n"),
    "cr": lambda b: b.replace(b"\n", b"\r"),
    "blank-tail": lambda b: b + b"\n  \n\t\n\n",
    "no-final-newline": lambda b: b.rstrip(b"\n"),
}


def _write(tmp_path: Path, case: Case, data: bytes) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / case.name
    path.write_bytes(data)
    return path


def _same(got, truth) -> None:
    np.testing.assert_equal(got, truth)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bom_line_ends_and_blank_lines_read_as_the_clean_file(tmp_path, case, variant):
    path = _write(tmp_path, case, VARIANTS[variant](case.text.encode()))
    _same(case.read(path), case.truth)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_utf16_is_refused_naming_the_encoding_and_the_fix(tmp_path, case):
    """Excel's 'Unicode Text' export: UTF-16 LE with a byte-order mark."""
    path = _write(tmp_path, case, ("\ufeff" + case.text).encode("utf-16-le"))
    with pytest.raises((DataError, ConfigError)) as info:
        case.read(path)
    message = str(info.value)
    assert "\n" not in message and case.name in message
    assert "UTF-16 text" in message and "as UTF-8" in message


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_latin1_is_refused_naming_the_line_and_the_fix(tmp_path, case):
    old, new, line = case.latin
    assert old in case.text
    path = _write(tmp_path, case, case.text.replace(old, new, 1).encode("cp1252"))
    with pytest.raises((DataError, ConfigError)) as info:
        case.read(path)
    message = str(info.value)
    assert "\n" not in message and case.name in message
    assert f"not UTF-8 text (line {line}); save" in message and "WINDOWS-1252" in message


@pytest.mark.parametrize(
    ("name", "text", "read"),
    [
        ("t.csv", "id;g1;g2\nr1;1;2,5\nr2;0;3\n", read_dataset),
        ("t.csv", "id;g1;g2\nr1;1;2.5\nr2;0;3\n", read_dataset),  # decimal points
        ("t.tsv", "id;g1;g2\nr1;1;2,5\nr2;0;3\n", read_dataset),
        ("m.csv", "mutant;DMS_score\nM1A;0,5\nK2R;-1,25\n", _mutants),
        ("o.csv", "sample;group\nr1;a\nr2;b\n", _obs),
    ],
)
def test_european_excel_csv_is_refused_not_read_as_one_column(tmp_path, name, text, read):
    path = _with_table(name, text, tmp_path)
    with pytest.raises(DataError, match=r"the fields are separated by ';', not .* '\.' as the"):
        read(path)


@pytest.mark.parametrize(
    ("name", "text", "fix"),
    [
        ("t.csv", TABLE, r"by tabs, not ','; .* \.tsv"),
        ("t.tsv", TABLE.replace("\t", ","), r"by ',', not tabs; .* \.csv"),
    ],
)
def test_a_table_of_another_separator_names_it(tmp_path, name, text, fix):
    with pytest.raises(DataError, match=rf"t\.\w+: the fields are separated {fix}"):
        read_dataset(_with_table(name, text, tmp_path))


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_excel_rows_of_separators_below_a_table_hold_no_record(tmp_path, suffix):
    """Excel saves the once-used empty rows under a table as lines of separators alone."""
    sep = "," if suffix == ".csv" else "\t"
    text = TABLE.replace("\t", sep) + f"{sep}{sep}\n{sep}{sep}\r\n"
    _same(_dataset(read_dataset(_with_table(f"t{suffix}", text, tmp_path))), TABLE_TRUTH)
    inner = TABLE.replace("\t", sep).replace("\nr2", f"\n{sep}{sep}\nr2")  # not at the end
    with pytest.raises(DataError, match="line 3, column 'id': empty record id"):
        read_dataset(_with_table(f"u{suffix}", inner, tmp_path))


def test_a_single_column_table_with_semicolons_in_its_name_is_no_separator_issue(tmp_path):
    """Only lines that split alike by ';' are taken for a European CSV."""
    ids, obs = read_obs_table(_with_table("o.csv", "id;x\nr1\nr2\n", tmp_path))
    assert list(ids) == ["r1", "r2"] and obs == {}


def test_pdb_files_from_windows_read_as_the_clean_file_and_mac_ones_are_refused(
    tmp_path, fixtures_dir
):
    pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    from biovae.data.structure import read_structures

    data = (fixtures_dir / "ubiquitin_2k39_ca_12.pdb").read_bytes()
    atom = next(line for line in data.decode().splitlines() if line.startswith("ATOM"))
    first = [float(atom[30:38]), float(atom[38:46]), float(atom[46:54])]  # columns 31-54
    for variant in ("utf8-bom", "bom-crlf", "blank-tail", "no-final-newline"):
        path = tmp_path / f"{variant}.pdb"
        path.write_bytes(VARIANTS[variant](data))
        coords = read_structures(path).coords
        assert coords.shape == (12, 76, 3)
        np.testing.assert_allclose(coords[0, 0], first, atol=1e-3)
    path = tmp_path / "mac.pdb"
    path.write_bytes(VARIANTS["cr"](data))
    with pytest.raises(DataError, match=r"mac\.pdb: the lines of the PDB file end in CR alone"):
        read_structures(path)
    path = tmp_path / "utf16.pdb"
    path.write_bytes(("\ufeff" + data.decode()).encode("utf-16-le"))
    with pytest.raises(DataError, match=r"utf16\.pdb: UTF-16 text .* save the PDB file as UTF-8"):
        read_structures(path)


def test_the_cli_reads_a_windows_excel_table_and_refuses_a_utf16_one_in_one_line(tmp_path, capsys):
    fit = ["fit", "--epochs", "1", "--latent", "2", "--seed", "0", "--quiet"]
    excel = tmp_path / "excel.csv"
    excel.write_bytes(codecs.BOM_UTF8 + TABLE.replace("\t", ",").replace("\n", "\r\n").encode())
    rc, _, err = run(capsys, *fit, excel, "--out", tmp_path / "m")
    assert rc == 0, err
    unicode = tmp_path / "unicode.tsv"
    unicode.write_bytes(("\ufeff" + TABLE).encode("utf-16-le"))
    rc, _, err = run(capsys, *fit, unicode, "--out", tmp_path / "n")
    assert rc == 2 and err.count("\n") == 1 and "unicode.tsv: UTF-16 text" in err
    assert not (tmp_path / "n").exists()


BIOM_JSON = """{
 "id": "t", "format": "Biological Observation Matrix 1.0.0", "format_url": "http://biom-format.org",
 "type": "OTU table", "generated_by": "hand", "date": "2024-01-01T00:00:00",
 "rows": [{"id": "o1", "metadata": null}, {"id": "o2", "metadata": null}],
 "columns": [{"id": "s1", "metadata": null}, {"id": "s2", "metadata": null}],
 "matrix_type": "sparse", "matrix_element_type": "float", "shape": [2, 2],
 "data": [[0, 0, 1.0], [0, 1, 3.0], [1, 1, 5.0]]
}
"""


def _structure_file(kind: str, tmp: Path) -> Path:
    """The fixture's first Cα model as mmCIF (biovae's writer) or GRO (MDAnalysis's)."""
    from biovae.data.mmcif_write import write_mmcif
    from biovae.data.structure import read_structures

    pdb = Path(__file__).parents[1] / "fixtures" / "ubiquitin_2k39_ca_12.pdb"
    if kind == "cif":
        s = read_structures(pdb)
        return write_mmcif(tmp / "clean.cif", s.with_coords(s.coords[:2]))
    mda = pytest.importorskip("MDAnalysis")
    mda.Universe(str(pdb)).atoms.write(str(tmp / "clean.gro"))
    return tmp / "clean.gro"


def _variants(raw: bytes) -> dict[str, bytes]:
    lf = raw.replace(b"\r\n", b"\n")
    return {
        "bom": codecs.BOM_UTF8 + lf,
        "crlf": lf.replace(b"\n", b"\r\n"),
        "cr": lf.replace(b"\n", b"\r"),
    }


@pytest.mark.parametrize("kind", ["cif", "gro"])
def test_mmcif_and_gro_from_windows_or_mac_read_as_the_clean_file(tmp_path, kind):
    pytest.importorskip("gemmi")
    from biovae.data.structure import read_structures

    clean = _structure_file(kind, tmp_path)
    truth = read_structures(clean)
    for name, data in _variants(clean.read_bytes()).items():
        (tmp_path / f"{name}.{kind}").write_bytes(data)
        got = read_structures(tmp_path / f"{name}.{kind}")
        np.testing.assert_array_equal(got.coords, truth.coords)
        assert got.features() == truth.features()
    utf16 = tmp_path / f"utf16.{kind}"
    utf16.write_bytes(clean.read_text().encode("utf-16"))
    with pytest.raises(
        DataError, match=rf"^{utf16}: UTF-16 text .*save the structure file as UTF-8"
    ):
        read_structures(utf16)


def test_json_biom_variants_read_as_the_clean_file_or_are_refused_naming_the_encoding(tmp_path):
    pytest.importorskip("biom")
    from biovae.data.biom import read_biom

    for name, data in {"clean": BIOM_JSON.encode(), **_variants(BIOM_JSON.encode())}.items():
        ds = read_biom(_write_bytes(tmp_path / f"{name}.biom", data))
        assert list(ds.ids) == ["s1", "s2"] and list(ds.features) == ["o1", "o2"]
        assert ds.x.tolist() == [[1.0, 0.0], [3.0, 5.0]]  # samples x observations
    utf16 = _write_bytes(tmp_path / "utf16.biom", BIOM_JSON.encode("utf-16"))
    with pytest.raises(DataError, match=rf"^{utf16}: UTF-16 text .*save the BIOM file as UTF-8"):
        read_biom(utf16)
    latin1 = BIOM_JSON.replace('"hand"', '"h\u00e9"').encode("latin-1")
    path = _write_bytes(tmp_path / "latin1.biom", latin1)
    with pytest.raises(DataError, match=rf"^{path}: not UTF-8 text \(line 3\); save the BIOM"):
        read_biom(path)


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _psf_and_dcd(tmp: Path) -> tuple[Path, Path]:
    """A tiny CHARMM PSF topology of the fixture's 76 Cα atoms and its 12 models as a DCD."""
    mda = pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    u = mda.Universe(str(Path(__file__).parents[1] / "fixtures" / "ubiquitin_2k39_ca_12.pdb"))
    lines = ["PSF", "", "       1 !NTITLE", " REMARKS Calpha of 2K39", "", "      76 !NATOM"]
    lines += [
        f"{i:8d} A    {a.resid:<4d} {a.resname:<4s} {a.name:<4s} CT1   0.000000  12.0110  0"
        for i, a in enumerate(u.atoms, 1)
    ]
    (tmp / "clean.psf").write_text("\n".join([*lines, "", "       0 !NBOND: bonds", "", ""]))
    with mda.Writer(str(tmp / "frames.dcd"), len(u.atoms)) as out:
        for _ in u.trajectory:
            out.write(u.atoms)
    return tmp / "clean.psf", tmp / "frames.dcd"


def test_a_psf_topology_from_windows_reads_as_the_clean_file(tmp_path):
    from biovae.data.structure import read_structures

    psf, dcd = _psf_and_dcd(tmp_path)
    truth = read_structures(dcd, topology=psf)
    assert truth.coords.shape == (12, 76, 3) and truth.res_names[0] == "MET"
    raw = psf.read_bytes()
    variants = {**_variants(raw), "bom-crlf": VARIANTS["bom-crlf"](raw)}
    # a byte-order mark hid MDAnalysis's 'PSF' header: "cannot read structures (Failed to
    # construct topology ...); frames must all have the same atoms as the topology"
    for name, data in variants.items():
        (tmp_path / name).mkdir()
        topology = tmp_path / name / "clean.psf"
        topology.write_bytes(data)
        got = read_structures(dcd, topology=topology)
        np.testing.assert_array_equal(got.coords, truth.coords)
        assert got.features() == truth.features()
        assert topology.read_bytes() == data  # the user's file is left as it was
    gz = tmp_path / "bom" / "clean.psf.gz"
    gz.write_bytes(gzip.compress(variants["bom"]))
    np.testing.assert_array_equal(read_structures(dcd, topology=gz).coords, truth.coords)


def test_a_multi_model_file_with_a_byte_order_mark_keeps_every_frame(tmp_path, fixtures_dir):
    pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    from biovae.data.structure import read_structures

    truth = read_structures(fixtures_dir / "ubiquitin_2k39_ca_12.pdb")
    bom = tmp_path / "bom.pdb"
    bom.write_bytes(codecs.BOM_UTF8 + (fixtures_dir / "ubiquitin_2k39_ca_12.pdb").read_bytes())
    got = read_structures(bom)  # read from a copy without the mark, frames held in memory
    np.testing.assert_array_equal(got.coords, truth.coords)
    assert got.source == str(bom) and got.features() == truth.features()
