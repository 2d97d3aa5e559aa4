"""Reference data every installation starts with: regions with their public pools, and the industry
list. Idempotent."""
from models.customers import Industry
from models.users import Region

REGIONS = [
    ("east", "华东", "East China"), ("north", "华北", "North China"), ("south", "华南", "South China"),
    ("southwest", "西南", "Southwest"), ("central", "华中", "Central China"), ("northeast", "东北", "Northeast"),
]
INDUSTRIES = [
    ("suits", "西装", "Suits"), ("jeans", "牛仔", "Jeans"), ("shirts", "衬衫", "Shirts"),
    ("knitwear", "针织", "Knitwear"), ("sportswear", "运动服", "Sportswear"), ("outerwear", "外套", "Outerwear"),
    ("childrens", "童装", "Children's wear"), ("uniforms", "职业装", "Workwear & uniforms"),
    ("fabrics", "面料", "Fabrics"), ("accessories", "服饰配件", "Accessories"),
]


def load():
    from models.pools import Pool

    for code, zh, en in REGIONS:
        region, _ = Region.get_or_create(code=code, defaults={"name_zh": zh, "name_en": en})
        # One public pool per region (华东公海 …).
        if not Pool.select().where(Pool.region == region.id).exists():
            Pool.create(name_zh=f"{zh}公海", name_en=f"{en} pool", region=region)
    for code, zh, en in INDUSTRIES:
        Industry.get_or_create(code=code, defaults={"name_zh": zh, "name_en": en})
