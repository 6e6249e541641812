"""Baseline configurations: ``tiny`` (CPU tests, seconds), ``cpu`` (real numbers on 2 CPU cores in
<= 15 minutes) and ``default`` (one GPU, <= 10 minutes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class AugmentConfig:
    """Train-time augmentation strengths (0 switches a transform off)."""

    rotate_deg: float = 8.0
    scale: float = 0.10  # zoom factor drawn from [1 - scale, 1 + scale]
    translate: float = 0.05  # fraction of the image side
    gamma: float = 0.25  # log-uniform gamma in [exp(-g), exp(g)]
    contrast: float = 0.15
    brightness: float = 0.10
    noise: float = 0.02  # std of additive Gaussian noise on [0, 1] intensities


#: How a foramen's graded boxes give its grade, and how grade probabilities give a severity
#: (baselines.decode.grades_from_detections, baselines.grading.severity_from_probs).
GRADE_POOLS = ("best", "worst")
SEVERITY_RULES = ("expected", "argmax")


def check_choice(what: str, value, choices) -> None:
    """ValueError unless ``value`` is one of ``choices``, naming them."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; expected {' or '.join(repr(c) for c in choices)}")


@dataclass(frozen=True)
class Config:
    """Everything a run depends on; stored in the checkpoint."""

    name: str = "default"
    input_size: int = 384  # every detection input is resized to input_size x input_size
    seg_input_size: int = 0  # the segmentation input side (0: input_size)
    context: int = 1  # DICOM neighbours on each side of an annotated slice (2.5D channels)
    det_widths: tuple[int, ...] = (32, 64, 128, 192, 256)
    det_stride: int = 4  # output stride of the CenterNet heads
    seg_widths: tuple[int, ...] = (32, 64, 128, 192, 256)
    epochs: int = 120
    batch_size: int = 16  # detection batch
    seg_batch_size: int = 8
    seg_repeat: int = 4  # the segmentation set (one image per patient) is seen this often per epoch
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    grad_clip: float = 5.0
    wh_weight: float = 0.1
    offset_weight: float = 1.0
    grade_crop: int = 32  # side of the grader's crops (pixels)
    grade_margin: float = 0.25  # a crop is its box grown by this fraction of the box side on every side
    grade_jitter: float = 0.1  # train crops: centre shift and size change, fractions of the box side
    grade_widths: tuple[int, ...] = (16, 32, 64)
    grade_batch_size: int = 64
    grade_repeat: int = 2  # the train boxes are seen this often per epoch
    grade_class_power: float = 0.5  # class weights proportional to frequency ** -power (0: unweighted)
    grade_decode: str = "expected"  # severity from the probabilities: "expected" (rounded mean) or "argmax"
    # the boxes of a foramen that the grader sees: those scoring >= grade_pool_ratio x its best;
    # grade_pool "best" keeps the most confident one's grade, "worst" the worst graded one's
    # (chosen on the cpu config's val split: see RESULTS.md)
    grade_pool_ratio: float = 0.5
    grade_pool: str = "worst"
    top_k: int = 30  # detections kept per image
    score_threshold: float = 0.01
    num_workers: int = 8
    log_every: int = 20  # steps between progress lines
    val_every: int = 10  # epochs between validations (the last epoch is always validated)
    max_steps_per_epoch: int = 0  # 0: no cap
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        check_choice("grade pool", self.grade_pool, GRADE_POOLS)
        if not 0.0 <= self.grade_pool_ratio <= 1.0:
            raise ValueError(f"grade_pool_ratio must lie in [0, 1], got {self.grade_pool_ratio!r}")
        check_choice("grade_decode rule", self.grade_decode, SEVERITY_RULES)

    @property
    def det_in_channels(self) -> int:
        """Slice channels (the slice and its neighbours) plus the lateral-position channel."""
        return 2 * self.context + 2

    @property
    def seg_size(self) -> int:
        return self.seg_input_size or self.input_size

    @property
    def grade_in_channels(self) -> int:
        """The grader sees the slice and its neighbours (no position channel: the box names the side)."""
        return 2 * self.context + 1

    def as_dict(self) -> dict:
        return asdict(self)


TINY = Config(
    name="tiny",
    input_size=128,
    det_widths=(8, 16, 32, 48),
    seg_widths=(8, 16, 32, 48),
    epochs=3,
    batch_size=8,
    seg_batch_size=8,
    seg_repeat=8,
    grade_widths=(8, 16, 32),
    grade_repeat=1,
    lr=3e-3,
    warmup_epochs=0.0,
    num_workers=0,
    log_every=5,
    val_every=3,
)
CPU = Config(
    name="cpu",
    input_size=256,
    seg_input_size=128,
    det_widths=(8, 16, 32, 48, 64, 96),  # two levels deeper than tiny: the receptive field to tell levels apart
    seg_widths=(8, 16, 32, 48),
    grade_widths=(16, 32, 64),
    epochs=55,  # val AP50 still rose at 40 (RESULTS.md)
    batch_size=8,
    seg_batch_size=8,
    seg_repeat=6,
    grade_repeat=4,
    lr=3e-3,
    warmup_epochs=1.0,
    num_workers=0,
    log_every=50,
    val_every=10,
)
DEFAULT = Config()
CONFIGS: dict[str, Config] = {"tiny": TINY, "cpu": CPU, "default": DEFAULT}


def get_config(name: str, **overrides) -> Config:
    """A named configuration with some fields replaced (``None`` values are ignored)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r}; expected one of {', '.join(CONFIGS)}")
    return replace(CONFIGS[name], **{k: v for k, v in overrides.items() if v is not None})


#: Fields added after checkpoints were first written, with the value those runs used.
_EARLIER_DEFAULTS = {"grade_pool": "best", "grade_pool_ratio": 1.0}


def config_from_dict(data: dict) -> Config:
    """Inverse of :meth:`Config.as_dict` (for checkpoints); an older checkpoint keeps the
    grade rule it was trained and validated with."""
    data = {**_EARLIER_DEFAULTS, **data}
    data["augment"] = AugmentConfig(**data.get("augment", {}))
    for key in ("det_widths", "seg_widths", "grade_widths"):
        data[key] = tuple(data[key])
    return Config(**data)
