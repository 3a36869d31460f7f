"""Build the .docx sample plans: district-renewal-tables.docx (measures in responsibility tables under
outline headings) and township-duties-table.docx (one duty table with a 责任单位 column whose first unit
leads by a declared convention, collectives, placeholders, '—' for none and a 完成时限 column).

Run from the repository root with `.venv/bin/python tests/plans/make_docx.py`; the generated file is kept
in the repository so the tests do not depend on running this script.
"""
from __future__ import annotations

from pathlib import Path

import docx

OUT = Path(__file__).with_name("district-renewal-tables.docx")
TOWNSHIP = Path(__file__).with_name("township-duties-table.docx")


def add_table(document, header: list[str], rows: list[list[str]]):
    table = document.add_table(rows=1 + len(rows), cols=len(header))
    for j, text in enumerate(header):
        table.rows[0].cells[j].text = text
    for i, row in enumerate(rows, start=1):
        for j, text in enumerate(row):
            table.rows[i].cells[j].text = text
    return table


def build(path: Path = OUT) -> Path:
    document = docx.Document()
    document.add_paragraph("东岭区2024年城市更新重点任务清单")
    document.add_paragraph("为扎实推进城市更新行动，改善人居环境，制定本清单。")
    document.add_paragraph("一、总体目标")
    document.add_paragraph("到2024年底，全区完成老旧小区改造面积达到60万平方米，城市生活污水集中收集率达到75%以上。")
    document.add_paragraph("二、重点任务")
    document.add_paragraph("（一）老旧小区改造")
    add_table(document, ["序号", "重点任务", "工作内容", "牵头单位", "配合单位", "完成时限"], [
        ["1", "推进老旧小区综合改造", "完成30个小区改造。到2024年底，改造面积达到50万平方米。",
         "区住房城乡建设局", "区财政局、各街道办事处", "2024年12月"],
        ["2", "加装电梯", "推动既有住宅加装电梯，2024年新增加装电梯100部。", "区住房城乡建设局",
         "区市场监管局", "2024年10月"],
    ])
    document.add_paragraph("（二）背街小巷整治")
    add_table(document, ["序号", "工作内容", "责任单位", "完成时限"], [
        ["1", "整治背街小巷，改善通行条件和环境卫生", "区城管局、各街道办事处", "2024年11月"],
        ["2", "建设口袋公园，增加居民休闲空间", "", "2024年12月"],
    ])
    document.add_paragraph("（三）基础设施补短板")
    table = add_table(document, ["领域", "具体任务", "牵头单位", "配合单位"], [
        ["排水防涝", "改造雨污合流管网20公里", "区水务局", "区住房城乡建设局"],
        ["排水防涝", "清理易涝点积水隐患", "区水务局", "区应急管理局"],
        ["燃气安全", "更新老化燃气管道", "区住房城乡建设局", "区市场监管局、东岭燃气集团"],
    ])
    table.cell(1, 0).merge(table.cell(2, 0))
    table.cell(1, 0).text = "排水防涝"
    document.add_paragraph("三、保障措施")
    document.add_paragraph("加强组织领导，强化资金保障，定期通报工作进展。")
    document.save(str(path))
    return path


def build_township(path: Path = TOWNSHIP) -> Path:
    document = docx.Document()
    document.add_paragraph("青石镇2025年人居环境整治工作任务分解表")
    document.add_paragraph("青石镇人民政府")
    document.add_paragraph("说明：责任单位栏中排在第一位的为牵头单位。")
    document.add_paragraph("一、整治任务")
    add_table(document, ["序号", "任务名称", "工作要求", "责任单位", "协同单位", "完成时限"], [
        ["1", "垃圾分类收运", "建成垃圾分类收集点40个，实现行政村全覆盖。", "镇生态办、镇财政所、各村（社区）",
         "—", "2025年9月底前"],
        ["2", "农村厕所改造", "完成户厕改造600户。", "镇农业服务中心、各村（社区）", "相关站所", "2025年12月"],
        ["3", "河塘清淤", "对辖区河塘开展常态化清淤保洁。", "镇水利站", "无", "持续推进"],
        ["4", "村容村貌提升", "清理乱堆乱放，整治私搭乱建。", "各村（社区）", "镇综合执法队", "长期"],
    ])
    document.add_paragraph("二、保障措施")
    document.add_paragraph("镇纪委对任务落实情况开展督查，每月通报一次。")
    document.save(str(path))
    return path


if __name__ == "__main__":
    print(build())
    print(build_township())
