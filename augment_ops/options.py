"""Options shared by all ops: how boxes, masks and empty areas are handled."""

import dataclasses

BOX_PRIORS = ("rectangle", "ellipse", "diamond")
INTERPOLATIONS = ("bilinear", "nearest")
WARPS = ("gather", "projective")


@dataclasses.dataclass(frozen=True)
class AugmentOptions:
    """How ops treat what the magnitude does not decide.

    Attributes:
      box_prior: the object shape assumed inside a box when a geometric op
        moves it: "rectangle" (the 4 corners; right for boxy objects),
        "ellipse" (the inscribed ellipse; tighter under rotation, right for
        round objects) or "diamond" (the edge midpoints; cross-shaped objects).
      min_box_visibility: a box is dropped when less than this fraction of its
        transformed area stays inside the image (or, for cutmix, uncovered).
      min_box_size: a box narrower or lower than this many pixels after
        clipping is degenerate and dropped.
      fill_value: image value where a geometric op has no source pixel.
      interpolation: image resampling for geometric ops ("bilinear" or
        "nearest"); masks always use nearest neighbour.
      occlusion_fill: image value of cutout and grid-mask areas.
      warp: resampling backend of geometric ops: "gather" (plain TF ops,
        compiles under XLA) or "projective" (tf.raw_ops.
        ImageProjectiveTransformV3, no XLA kernel); see warp.py.
      xla: run each op (apply_op) or whole policy (apply_policy) as one
        XLA cluster (jit_compile=True) when all its ops support it. XLA
        fuses the elementwise work into single passes; set False to debug
        eagerly.
    """

    box_prior: str = "rectangle"
    min_box_visibility: float = 0.25
    min_box_size: float = 1.0
    fill_value: float = 0.0
    interpolation: str = "bilinear"
    occlusion_fill: float = 0.5
    warp: str = "gather"
    xla: bool = True

    def __post_init__(self):
        if self.box_prior not in BOX_PRIORS:
            raise ValueError(f"box_prior must be one of {BOX_PRIORS}; got {self.box_prior!r}.")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}; got {self.interpolation!r}.")
        if self.warp not in WARPS:
            raise ValueError(f"warp must be one of {WARPS}; got {self.warp!r}.")
        if not 0.0 <= self.min_box_visibility <= 1.0:
            raise ValueError(f"min_box_visibility must be in [0,1]; got {self.min_box_visibility}.")
        if self.min_box_size < 0:
            raise ValueError(f"min_box_size must be >= 0 pixels; got {self.min_box_size}.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "AugmentOptions":
        unknown = set(values) - {field.name for field in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown AugmentOptions fields {sorted(unknown)}.")
        return cls(**values)


DEFAULT_OPTIONS = AugmentOptions()
