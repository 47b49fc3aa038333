"""One optimum-benchmark configuration, run by ``vs_optimum.py`` with the Python of a venv that has
optimum-benchmark installed: all-MiniLM-L6-v2 fp32 feature extraction on the CPU at optimum-benchmark's default
inference scenario (10 warm-up runs, then latency for at least 10 iterations and 10 s), in its default process
launcher. Usage: ``python _optimum_case.py MODEL_DIR BATCH SEQ REPORT_JSON``."""

import sys

from optimum_benchmark import Benchmark, BenchmarkConfig, InferenceConfig, ProcessConfig, PyTorchConfig

if __name__ == "__main__":
    model, batch, seq, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    config = BenchmarkConfig(
        name="minilm-fp32",
        launcher=ProcessConfig(),
        scenario=InferenceConfig(input_shapes={"batch_size": batch, "sequence_length": seq}),
        backend=PyTorchConfig(model=model, device="cpu", task="feature-extraction", no_weights=False),
    )
    Benchmark.launch(config).save_json(out)
