"""cuBLAS, loaded at run time by the CUDA module: the loader's errors (everywhere the CUDA
module is built) and gemm through cuBLAS against the CPU gemm (on a GPU)."""

import numpy as np
import pytest
from cuda_helpers import cuda_module, requires_gpu, to_cpu, to_gpu

import gradcore
from gradcore import _C

needs_cuda_module = pytest.mark.skipif(
    not gradcore.cuda.is_built(), reason="gradcore was built without its CUDA module"
)


@needs_cuda_module
def test_missing_cublas_names_the_path_and_the_fix(tmp_path):
    m = gradcore.cuda._cuda_module()
    if m.cublas_loaded():
        pytest.skip("cuBLAS is already loaded in this process")
    missing = str(tmp_path / "libcublas.so.13")
    with pytest.raises(RuntimeError, match=r"libcublas.so.13.*pip install 'gradcore\[cuda\]'"):
        m.load_cublas(missing)
    not_cublas = tmp_path / "libcublas.so.13"
    not_cublas.write_bytes(b"not an ELF file")
    with pytest.raises(RuntimeError, match="could not be loaded"):
        m.load_cublas(str(not_cublas))
    assert not m.cublas_loaded()


def test_cublas_candidates_end_with_the_loader_search_path():
    assert gradcore.cuda.cublas_candidates()[-1] == ""


@requires_gpu
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("mnk", [(1, 1, 1), (7, 5, 3), (64, 33, 129), (300, 17, 1000)])
def test_gpu_gemm_matches_cpu(mnk, trans_a, trans_b, rng):
    gradcore.cuda.load_cublas()
    M, N, K = mnk
    a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(np.float32)
    ref = _C.gemm(a, b, None, trans_a, trans_b)
    got = to_cpu(cuda_module().gemm(to_gpu(a), to_gpu(b), None, trans_a, trans_b))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.sqrt(K))
    c0 = rng.standard_normal((M, N)).astype(np.float32)
    c = to_gpu(c0)
    cuda_module().gemm(to_gpu(a), to_gpu(b), c, trans_a, trans_b, 2.0, 0.5)
    np.testing.assert_allclose(to_cpu(c), 2 * ref + 0.5 * c0, rtol=1e-4, atol=1e-3)


@requires_gpu
def test_gpu_gemm_errors():
    m = cuda_module()
    with pytest.raises(ValueError, match="inner sizes differ"):
        m.gemm(to_gpu(np.ones((2, 3), np.float32)), to_gpu(np.ones((4, 2), np.float32)))
    with pytest.raises(TypeError, match="float32"):
        m.gemm(to_gpu(np.ones((2, 3))), to_gpu(np.ones((3, 2))))
