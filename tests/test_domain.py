import pytest

from lssbench import domain


def test_ten_categories_in_level_then_side_order():
    assert len(domain.CATEGORIES) == 10
    assert domain.CATEGORIES[:3] == ("L1-L2/left", "L1-L2/right", "L2-L3/left")
    assert domain.category_id("L1-L2", "left") == 1
    assert domain.category_id("L5-S1", "right") == 10
    assert domain.split_category("L3-L4/left") == ("L3-L4", "left")


@pytest.mark.parametrize("text", ["L3-L4", "L3/L4", "L3_L4", "l3-l4", " L3 - L4 "])
def test_level_spellings_accepted(text):
    assert domain.parse_level(text) == "L3-L4"


def test_l5_s1_spellings():
    assert domain.parse_level("l5/s1") == "L5-S1"


@pytest.mark.parametrize("text", ["L3-L5", "L6-S1", "L3", "S1-L5", "", "L3-L4-L5"])
def test_unknown_level_names_the_expected_spellings(text):
    with pytest.raises(ValueError, match=r"expected one of L1-L2, L2-L3, L3-L4, L4-L5, L5-S1"):
        domain.parse_level(text)


@pytest.mark.parametrize("text,side", [("left", "left"), ("Left", "left"), ("L", "left"), ("r", "right"),
                                       ("RIGHT", "right")])
def test_side_spellings(text, side):
    assert domain.parse_side(text) == side


def test_unknown_side():
    with pytest.raises(ValueError, match="unknown side 'middle'; expected left or right"):
        domain.parse_side("middle")


def test_voc_names_round_trip():
    for side in domain.SIDES:
        for grade in domain.GRADES:
            assert domain.parse_voc_name(domain.voc_name(side, grade)) == (side, grade)
    with pytest.raises(ValueError, match="'XFS9'; expected LFS0-3 or RFS0-3"):
        domain.parse_voc_name("XFS9")
    with pytest.raises(ValueError):
        domain.parse_voc_name("LFS4")


def test_worst_grade_rule():
    assert domain.foramen_grade([0, 3]) == 3
    assert domain.foramen_grade([1]) == 1


def test_segmentation_classes_are_indexed_in_order_with_distinct_colours():
    assert [c.index for c in domain.SEGMENTATION_CLASSES] == list(range(6))
    assert domain.SEGMENTATION_CLASS_NAMES == ("anterior", "posterior_a", "posterior_b", "vertebra", "disc", "sacrum")
    assert len({c.colour for c in domain.SEGMENTATION_CLASSES}) == 6
    assert domain.HEADLINE_SEGMENTATION_CLASSES == domain.SEGMENTATION_CLASS_NAMES[1:]


def test_image_id_round_trip():
    assert domain.image_id("PATIENT1000513", "IM000003") == "PATIENT1000513/IM000003"
    assert domain.split_image_id("PATIENT1000513/IM000003") == ("PATIENT1000513", "IM000003")
