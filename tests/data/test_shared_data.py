"""Whole shared data files (skipped when ``BIOVAE_DATA_DIR`` / ../shared/data is absent)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from biovae.data import DNA, PROTEIN, decode, fingerprint, read_dataset
from biovae.errors import DataError

A2M_NAME = "BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m"


def test_blat_alignment_full(shared_data):
    path = shared_data / "protein" / A2M_NAME
    with pytest.raises(DataError, match=r"record 'up\|.*letter '[XZ]'.*drop_invalid"):
        read_dataset(path)
    ds = read_dataset(path, drop_invalid=True)
    # DeepSequence's published data shape after dropping rows with X/Z: (8355, 253)
    assert ds.x.shape == (8355, 253) and ds.alphabet == PROTEIN
    assert ds.features[0] == "29" and ds.features[-1] == "283"


def test_splice_junctions_full(shared_data):
    ds = read_dataset(shared_data / "dna" / "splice_junctions.tsv", sequence_column="sequence")
    assert ds.x.shape == (3186, 60) and ds.alphabet == DNA
    labels, counts = np.unique(ds.obs["class"], return_counts=True)
    assert dict(zip(labels, counts)) == {"ei": 767, "ie": 765, "n": 1654}
    ei = decode(ds.x[ds.obs["class"] == "ei"], DNA)
    assert np.mean([s[30:32] == "GT" for s in ei]) > 0.98  # donor GT after the boundary


def test_ecoli_promoters_lower_case(shared_data):
    ds = read_dataset(shared_data / "dna" / "ecoli_promoters.tsv", sequence_column="sequence")
    assert ds.x.shape == (106, 57) and ds.alphabet == DNA
    first = "gccttctccaaaacgtgttttttgttgttaattcggtgtagacttgtaaacctaaat"
    assert decode(ds.x[:1], DNA)[0] == first.upper()
    assert (ds.obs["class"] == "+").sum() == 53


def test_crc_with_metadata(shared_data):
    folder = shared_data / "microbiome"
    ds = read_dataset(folder / "crc_abundance.tsv", obs_path=str(folder / "crc_metadata.tsv"))
    assert ds.x.shape == (551, 484)
    assert (ds.obs["gender"] == "").sum() == 183 and np.isnan(ds.obs["BMI"]).sum() == 190
    assert (ds.obs["study_condition"] == "CRC").sum() == 46 + 27 + 52 + 75 + 91
    assert ds.x.sum(axis=1).max() <= 1.0 + 1e-5


def test_cellbench_full(shared_data):
    pytest.importorskip("anndata")
    ds = read_dataset(shared_data / "singlecell" / "cellbench_3cl_2platforms.h5ad")
    assert ds.x.shape == (499, 15073) and sp.isspmatrix_csr(ds.x)
    assert ds.x.nnz == 3129363
    assert fingerprint(ds) == fingerprint(ds.subset(np.arange(499)))


def test_genotype_missing_values_are_reported(shared_data):
    with pytest.raises(DataError, match=r"record '1', line 2, column 'loc-65\.169': missing"):
        read_dataset(shared_data / "genotype" / "ehgdp_microsat.tsv.gz")


def test_lambda_genome_is_one_record(shared_data):
    ds = read_dataset(shared_data / "dna" / "lambda_virus.fa")
    assert ds.x.shape == (1, 48502) and ds.alphabet == DNA
    assert ds.obs["description"][0] == "Enterobacteria phage lambda, complete genome"
