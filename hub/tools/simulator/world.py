"""The simulated CARICC world: agencies, crossing points, trafficking routes, people and companies.

Reference data for the simulator only (not used for routing or enrichment). Crossing coordinates are
approximate.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimAgency:
    code: str
    state: str
    name: str
    kind: str  # customs | drugs | border | imt | blo
    posts: tuple[str, ...]  # crossing keys where it works


@dataclass(frozen=True)
class Crossing:
    key: str
    country: str
    place: str
    lat: float
    lon: float
    modes: tuple[str, ...]
    facing: str  # the neighbouring country


CROSSINGS: dict[str, Crossing] = {c.key: c for c in (
    Crossing("dostuk", "KG", "Dostuk (KG-UZ border, Osh)", 40.597, 72.620, ("ROAD",), "UZ"),
    Crossing("dustlik", "UZ", "Dustlik (UZ-KG border, Andijan)", 40.590, 72.610, ("ROAD",), "KG"),
    Crossing("khorgos", "KZ", "Khorgos (KZ-CN border)", 44.212, 80.412, ("ROAD", "RAIL"), "CN"),
    Crossing("altynkol", "KZ", "Altynkol rail station", 44.197, 80.370, ("RAIL",), "CN"),
    Crossing("nizhniy_panj", "TJ", "Nizhniy Panj (TJ-AF bridge)", 37.180, 68.620, ("ROAD",), "AF"),
    Crossing("ishkashim", "TJ", "Ishkashim (TJ-AF border)", 36.730, 71.610, ("ROAD", "PEDESTRIAN"), "AF"),
    Crossing("shurobod", "TJ", "Shurobod district, Panj river bank", 37.840, 70.040, ("PEDESTRIAN",), "AF"),
    Crossing("termez", "UZ", "Termez (UZ-AF Friendship Bridge)", 37.230, 67.280, ("ROAD", "RAIL"), "AF"),
    Crossing("hairatan", "AF", "Hairatan (AF-UZ Friendship Bridge)", 37.220, 67.420, ("ROAD", "RAIL"), "UZ"),
    Crossing("zhibek_zholy", "KZ", "Zhibek Zholy (KZ-UZ border)", 41.420, 69.320, ("ROAD",), "UZ"),
    Crossing("saryagash", "KZ", "Saryagash rail station", 41.450, 69.170, ("RAIL",), "UZ"),
    Crossing("torugart", "KG", "Torugart pass (KG-CN)", 40.560, 75.390, ("ROAD",), "CN"),
    Crossing("farap", "TM", "Farap (TM-UZ border)", 39.180, 63.610, ("ROAD", "RAIL"), "UZ"),
    Crossing("serhetabat", "TM", "Serhetabat (TM-AF border)", 35.280, 62.340, ("ROAD", "RAIL"), "AF"),
    Crossing("aktau", "KZ", "Aktau sea port", 43.650, 51.170, ("SEA",), "AZ"),
    Crossing("turkmenbashi", "TM", "Turkmenbashi sea port", 40.010, 52.990, ("SEA",), "AZ"),
    Crossing("alat", "AZ", "Baku International Sea Trade Port (Alat)", 40.060, 49.410, ("SEA",), "TM"),
    Crossing("almaty_post", "KZ", "Almaty international postal exchange", 43.350, 77.010, ("POSTAL", "AIR"), "CN"),
    Crossing("manas", "KG", "Manas airport, Bishkek", 43.060, 74.480, ("AIR",), "RU"),
    Crossing("bishkek_post", "KG", "Bishkek postal exchange", 42.870, 74.590, ("POSTAL",), "CN"),
    Crossing("troitsk", "RU", "Troitsk (RU-KZ border)", 54.090, 61.560, ("ROAD", "RAIL"), "KZ"),
    Crossing("orenburg", "RU", "Orenburg rail customs post", 51.770, 55.100, ("RAIL",), "KZ"),
    Crossing("vnukovo", "RU", "Vnukovo airport, Moscow", 55.590, 37.260, ("AIR",), "TJ"),
)}

AGENCIES: tuple[SimAgency, ...] = (
    SimAgency("KZ-SRC-CUSTOMS", "KZ", "State Revenue Committee of Kazakhstan - Customs", "customs",
              ("khorgos", "altynkol", "zhibek_zholy", "saryagash", "aktau", "almaty_post")),
    SimAgency("KZ-MVD-DRUGS", "KZ", "Kazakhstan Ministry of Internal Affairs - Counter-narcotics", "drugs",
              ("zhibek_zholy", "almaty_post", "khorgos")),
    SimAgency("KZ-KNB-BORDER", "KZ", "Border Service of the National Security Committee of Kazakhstan", "border",
              ("khorgos", "zhibek_zholy")),
    SimAgency("KZ-BLO-KHORGOS", "KZ", "Border Liaison Office Khorgos", "blo", ("khorgos", "altynkol")),
    SimAgency("KG-CUSTOMS", "KG", "State Customs Service of the Kyrgyz Republic", "customs",
              ("dostuk", "torugart", "manas", "bishkek_post")),
    SimAgency("KG-MVD-DCS", "KG", "Drug Control Service of the Kyrgyz Ministry of Internal Affairs", "drugs",
              ("dostuk", "manas", "bishkek_post")),
    SimAgency("KG-BLO-DOSTUK", "KG", "Border Liaison Office Dostuk", "blo", ("dostuk",)),
    SimAgency("TJ-DCA", "TJ", "Drug Control Agency under the President of Tajikistan", "drugs",
              ("nizhniy_panj", "ishkashim", "shurobod")),
    SimAgency("TJ-CUSTOMS", "TJ", "Customs Service under the Government of Tajikistan", "customs",
              ("nizhniy_panj", "ishkashim")),
    SimAgency("TJ-BLO-NIZHNIY-PANJ", "TJ", "Border Liaison Office Nizhniy Panj", "blo", ("nizhniy_panj",)),
    SimAgency("TJ-IMT-SUGHD", "TJ", "Interagency Mobile Team Sughd", "imt", ("nizhniy_panj", "shurobod")),
    SimAgency("UZ-CUSTOMS", "UZ", "Customs Committee of Uzbekistan", "customs", ("termez", "dustlik", "farap")),
    SimAgency("UZ-NCDC", "UZ", "National Information-Analytical Center on Drug Control of Uzbekistan", "drugs",
              ("termez", "dustlik")),
    SimAgency("UZ-BLO-TERMEZ", "UZ", "Border Liaison Office Termez", "blo", ("termez",)),
    SimAgency("UZ-IMT-SURKHANDARYA", "UZ", "Interagency Mobile Team Surkhandarya", "imt", ("termez",)),
    SimAgency("TM-CUSTOMS", "TM", "State Customs Service of Turkmenistan", "customs", ("farap", "serhetabat",
                                                                                       "turkmenbashi")),
    SimAgency("AZ-SCC", "AZ", "State Customs Committee of Azerbaijan", "customs", ("alat",)),
    SimAgency("RU-FCS", "RU", "Federal Customs Service of Russia", "customs", ("troitsk", "orenburg", "vnukovo")),
    SimAgency("RU-MVD-GUNK", "RU", "Main Directorate for Drug Control, Russian MVD", "drugs", ("troitsk", "vnukovo")),
)

# origin -> ... -> destination; the simulator picks one whose countries include the post's country
ROUTES: tuple[tuple[str, ...], ...] = (
    ("AF", "TJ", "KG", "KZ", "RU"),  # northern route
    ("AF", "TJ", "UZ", "KZ", "RU"),
    ("AF", "UZ", "KZ", "RU"),
    ("AF", "TM", "AZ", "GE", "TR"),  # Caspian / South Caucasus
    ("AF", "TM", "UZ", "KZ", "RU"),
    ("AF", "TJ", "KG", "CN"),
    ("CN", "KZ", "UZ", "AF"),  # precursors towards Afghanistan
    ("CN", "KG", "TJ", "AF"),
    ("CN", "KZ", "RU"),  # NPS by post
    ("IR", "TM", "UZ", "KZ"),
    ("PK", "AF", "TJ", "KG", "KZ"),
    ("KG", "KZ", "RU"),  # Chui valley cannabis
    ("TR", "GE", "AZ", "KZ"),
)

# type -> (unit, quantity range, names (en/ru), typical concealments with details)
SUBSTANCES: dict[str, tuple[str, tuple[float, float], tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "HEROIN": ("KG", (0.3, 250.0), ("heroin", "героин", "Afghan heroin No. 4"), (
        ("CARGO", "inside boxes of dried apricots"), ("CONVEYANCE", "false floor of the trailer"),
        ("CONVEYANCE", "fuel tank"), ("BODY", "swallowed capsules"), ("CARGO", "among cotton bales"),
        ("CONVEYANCE", "spare tyre"))),
    "OPIUM": ("KG", (1.0, 400.0), ("opium", "опий", "опий-сырец"), (
        ("BAGGAGE", "sacks carried across the Panj river"),
        ("CONVEYANCE", "door panels"), ("CARGO", "watermelons hollowed out"))),
    "HASHISH": ("KG", (1.0, 600.0), ("hashish", "гашиш", "charas"), (
        ("CARGO", "in a consignment of onions"), ("CONVEYANCE", "wagon roof cavity"),
        ("CONSUMER_GOODS", "inside soap bars"))),
    "CANNABIS": ("KG", (0.5, 900.0), ("marijuana", "марихуана", "Chui valley cannabis"), (
        ("BAGGAGE", "travel bags"), ("CONVEYANCE", "under the seats"), ("CARGO", "hay bales"))),
    "METHAMPHETAMINE": ("KG", (0.2, 120.0), ("methamphetamine", "метамфетамин", "shisha (crystal meth)"), (
        ("CONSUMER_GOODS", "inside tea packets"), ("CARGO", "pomegranate juice cans"),
        ("BODY", "strapped to the body"))),
    "TRAMADOL": ("TABLETS", (2_000, 600_000), ("tramadol", "трамадол", "tramadol 225 mg"), (
        ("CARGO", "declared as paracetamol"), ("POSTAL", "parcels of 'food supplements'"),
        ("BAGGAGE", "suitcase lining"))),
    "NPS": ("G", (5.0, 20_000.0), ("mephedrone", "мефедрон", "alpha-PVP ('соль')", "synthetic cannabinoids (спайс)"), (
        ("POSTAL", "small parcels declared as bath salts"), ("CONSUMER_GOODS", "inside electronics"),
        ("CARGO", "labelled as plant fertiliser"))),
    "PRECURSOR": ("L", (50.0, 20_000.0), ("acetic anhydride", "уксусный ангидрид", "ephedrine", "эфедрин"), (
        ("CARGO", "drums declared as paint thinner"), ("CONVEYANCE", "tank wagon"),
        ("CARGO", "in canisters labelled acetic acid"))),
}

PEOPLE: tuple[tuple[str, str], ...] = (  # (name, nationality)
    ("Рахимов Фаррух Абдуллоевич", "TJ"), ("Rakhimov Farrukh", "TJ"), ("Каримов Дилшод", "UZ"),
    ("Karimov Dilshod", "UZ"), ("Юсупов Бахтиёр", "UZ"), ("Назаров Шерзод", "TJ"), ("Nazarov Sherzod", "TJ"),
    ("Абдуллоев Самандар", "TJ"), ("Ахмедов Ильхом", "UZ"), ("Mohammad Karim Noori", "AF"),
    ("Ahmad Shah Rahimi", "AF"), ("Gul Agha Sherzai", "AF"), ("Асанов Нурлан", "KZ"), ("Asanov Nurlan", "KZ"),
    ("Токтогулов Эрлан", "KG"), ("Toktogulov Erlan", "KG"), ("Бердыев Мерген", "TM"), ("Mammadov Elvin", "AZ"),
    ("Смирнов Андрей Викторович", "RU"), ("Wang Lei", "CN"), ("Ли Вэй", "CN"), ("Мамадалиев Улугбек", "KG"),
)

COMPANIES: tuple[tuple[str, str], ...] = (
    ("ООО «Сугд Фрукт»", "TJ"), ("Sughd Fruit LLC", "TJ"), ("Kunduz Trading Company", "AF"),
    ("Hairatan Logistics", "AF"), ("ТОО «Жибек Жолы Транс»", "KZ"), ("Zhibek Zholy Trans LLP", "KZ"),
    ("Urumqi Tianshan Chemical Co., Ltd.", "CN"), ("Xinjiang Silk Road Import-Export", "CN"),
    ("ОсОО «Ош Агро Экспорт»", "KG"), ("Termez Cotton Export", "UZ"), ("Caspian Shipping Agency", "AZ"),
    ("ООО «ТрансЛогистик»", "RU"), ("Mazar Dried Fruits", "AF"), ("Ashgabat Textile Trade", "TM"),
)

GOODS: tuple[tuple[str, str], ...] = (  # description, HS code
    ("dried apricots", "081310"), ("raisins", "080620"), ("cotton lint", "520100"), ("onions", "070310"),
    ("pomegranate juice", "200989"), ("black tea", "090240"), ("household chemicals", "340220"),
    ("paint thinner", "381400"), ("auto parts", "870899"), ("textiles", "630790"), ("watermelons", "080711"),
    ("acetic acid", "291521"), ("cement", "252329"), ("mobile phones", "851713"),
)

RISK_INDICATORS: tuple[str, ...] = (
    "consignee registered less than 3 months ago", "route inconsistent with declared origin",
    "declared weight differs from scanned weight", "shipper linked to an earlier seizure",
    "payment in cash by a third party", "transit through Afghanistan with transshipment",
    "precursor chemical in quantity above legitimate demand", "driver seen on a previous suspect route",
    "container repacked at an unusual location", "consignee address is a residential flat",
    "x-ray anomaly in the trailer floor", "tip from a confidential source",
)

OWNER_CODES: tuple[str, ...] = ("MSCU", "TGHU", "FESU", "CMAU", "TCLU", "MSKU", "CSQU", "TRHU", "KZTU", "UETU")

PLATE_FORMATS: dict[str, str] = {  # # = digit, @ = letter
    "KZ": "### @@@ 02", "KG": "01 ### @@@", "TJ": "#### @@ 01", "UZ": "01 @ ### @@", "TM": "@@ #### AG",
    "AF": "KBL ####", "RU": "@ ### @@ 77", "AZ": "10-@@-###", "CN": "新@ #####",
}
