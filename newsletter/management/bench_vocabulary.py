"""The benchmark archive's vocabulary (`manage.py seed_bench`), so titles, summaries and searches
look like the real thing. Plain data: `bench/pages.py` builds its searches from it.
"""

TOPICS = [
    "quantization", "pruning", "knowledge distillation", "sparse attention", "mixture of experts",
    "low-rank adaptation", "speculative decoding", "KV cache compression", "FlashAttention",
    "long-context inference", "on-device inference", "parameter-efficient fine-tuning",
    "token merging", "early exit", "state space models", "linear attention",
    "structured sparsity", "4-bit inference", "8-bit optimisers", "kernel fusion",
    "continuous batching", "paged attention", "model compression", "efficient training",
    "activation checkpointing", "pipeline parallelism", "tensor parallelism",
    "compiler optimisation", "energy-efficient training", "small language models",
]  # fmt: skip
TARGETS = [
    "large language models", "vision transformers", "diffusion models", "speech recognition",
    "edge devices", "consumer GPUs", "CPUs", "mobile phones", "retrieval-augmented generation",
    "code models", "recommendation systems", "multimodal models",
]  # fmt: skip
OPENERS = [
    "Faster", "Cheaper", "Scaling", "Revisiting", "Understanding", "Practical", "Towards",
    "Simple", "Memory-efficient", "Adaptive", "Dynamic", "Robust", "Rethinking", "Accurate",
]  # fmt: skip
SENTENCES = [
    "The authors show that {topic} keeps accuracy within a point of the baseline on {target}.",
    "A clear walk through **{topic}**, with code you can run on a single GPU.",
    "Benchmarks cover {target}: up to {n}× faster at the same quality.",
    "It combines {topic} with {other} and reports `{n}x` lower memory use.",
    "Includes an ablation of every design choice and a [reference implementation]({url}).",
    "Why {topic} works, explained with small experiments rather than equations.",
    "The trick is to apply {topic} only where the activations are *well behaved*.",
    "Compared against {other}, it needs {n} times fewer GPU hours to train.",
    "A good companion to last month's discussion of {other}.",
    "Production notes from a team serving {target} to millions of users.",
]
FIRST_NAMES = [
    "Ada", "Alan", "Grace", "Katherine", "Linus", "Barbara", "Edsger", "Frances", "John",
    "Margaret", "Dennis", "Radia", "Ken", "Sophie", "Tim", "Hedy", "Donald", "Karen", "Guido",
    "Yukihiro", "Anita", "Niklaus", "Shafi", "Leslie", "Fei-Fei", "Yoshua", "Geoffrey", "Andrew",
]  # fmt: skip
TIME_ZONES = [
    "UTC", "Europe/London", "Europe/Paris", "America/New_York", "America/Los_Angeles",
    "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "Europe/Helsinki", "America/Sao_Paulo",
]  # fmt: skip
# The member the benchmark logs in as (member100@example.org): seed_bench gives them answers.
BENCH_MEMBER = 100
# The seeded members' password (accounts on a benchmark database only).
PASSWORD = "bench-password"  # noqa: S105
