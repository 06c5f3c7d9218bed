"""helpers.tables.markdown_table: the course's one markdown-table writer."""

from helpers.tables import markdown_table


def test_cells_are_written_as_given_and_aligned_labels_left_numbers_right():
    table = markdown_table([{"method": "lora", "peak": "1.10 GB", "steps": "007"}], compact=True)
    assert table.splitlines() == ["| method | peak | steps |", "|:---|---:|---:|", "| lora | 1.10 GB | 007 |"]


def test_padding_lines_the_columns_up_unless_compact():
    rows = [{"a": "x", "b": "1"}, {"a": "longer", "b": "22"}]
    padded = markdown_table(rows, align=["center", "left"]).splitlines()
    assert len({len(line) for line in padded}) == 1 and padded[1] == "|:------:|:----|"
    assert markdown_table(rows, align=["center", "left"], compact=True).splitlines()[3] == "| longer | 22 |"
