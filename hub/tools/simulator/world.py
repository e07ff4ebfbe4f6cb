"""The simulated CARICC world: agencies, crossing points, trafficking routes, people and companies.

Reference data for the simulator only (not used for routing or enrichment). Crossing coordinates are
approximate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


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

class Variant(NamedTuple):
    """One form of a substance as officers write it (English, Russian), its unit and quantity range."""

    en: str
    ru: str
    unit: str
    low: float
    high: float


class Hiding(NamedTuple):
    """A concealment (the Avro ``Concealment`` symbol and the officer's detail) and the conveyance
    modes in which it can happen."""

    concealment: str
    detail: str
    modes: tuple[str, ...]


ROAD, RAIL, SEA, AIR, POSTAL, FOOT = "ROAD", "RAIL", "SEA", "AIR", "POSTAL", "PEDESTRIAN"
FREIGHT = (ROAD, RAIL, SEA)
TRAVELLER = (ROAD, RAIL, AIR, FOOT)

# type -> (the forms it is written in, where it is hidden). A precursor's forms are different chemicals
# (acetic anhydride is a liquid, ephedrine a powder): a narrative names the form of its own report.
SUBSTANCES: dict[str, tuple[tuple[Variant, ...], tuple[Hiding, ...]]] = {
    "HEROIN": ((Variant("heroin", "героин", "KG", 0.3, 250.0),
                Variant("Afghan heroin No. 4", "афганский героин № 4", "KG", 0.3, 250.0)), (
        Hiding("CARGO", "inside boxes of dried apricots", FREIGHT), Hiding("CONVEYANCE", "false floor of the trailer", (ROAD,)),
        Hiding("CONVEYANCE", "fuel tank", (ROAD,)), Hiding("BODY", "swallowed capsules", TRAVELLER),
        Hiding("CARGO", "among cotton bales", FREIGHT), Hiding("CONVEYANCE", "spare tyre", (ROAD,)))),
    "OPIUM": ((Variant("opium", "опий", "KG", 1.0, 400.0), Variant("raw opium", "опий-сырец", "KG", 1.0, 400.0)), (
        Hiding("BAGGAGE", "sacks carried across the Panj river", (FOOT,)),
        Hiding("CONVEYANCE", "door panels", (ROAD,)), Hiding("CARGO", "watermelons hollowed out", (ROAD, RAIL)))),
    "HASHISH": ((Variant("hashish", "гашиш", "KG", 1.0, 600.0), Variant("charas", "чарас", "KG", 1.0, 600.0)), (
        Hiding("CARGO", "in a consignment of onions", FREIGHT), Hiding("CONVEYANCE", "wagon roof cavity", (RAIL,)),
        Hiding("CONSUMER_GOODS", "inside soap bars", (*FREIGHT, AIR)))),
    "CANNABIS": ((Variant("marijuana", "марихуана", "KG", 0.5, 900.0),
                  Variant("Chui valley cannabis", "чуйская конопля", "KG", 0.5, 900.0)), (
        Hiding("BAGGAGE", "travel bags", TRAVELLER), Hiding("CONVEYANCE", "under the seats", (ROAD,)),
        Hiding("CARGO", "hay bales", (ROAD, RAIL)))),
    "METHAMPHETAMINE": ((Variant("methamphetamine", "метамфетамин", "KG", 0.2, 120.0),
                         Variant("shisha (crystal meth)", "шиша (кристаллический метамфетамин)", "KG", 0.2, 120.0)), (
        Hiding("CONSUMER_GOODS", "inside tea packets", (*FREIGHT, AIR)), Hiding("CARGO", "pomegranate juice cans", FREIGHT),
        Hiding("BODY", "strapped to the body", TRAVELLER))),
    "TRAMADOL": ((Variant("tramadol", "трамадол", "TABLETS", 2_000, 600_000),
                  Variant("tramadol 225 mg", "трамадол 225 мг", "TABLETS", 2_000, 600_000)), (
        Hiding("CARGO", "declared as paracetamol", (*FREIGHT, AIR)),
        Hiding("POSTAL", "parcels of 'food supplements'", (POSTAL,)), Hiding("BAGGAGE", "suitcase lining", TRAVELLER))),
    "NPS": ((Variant("mephedrone", "мефедрон", "G", 5.0, 20_000.0), Variant("alpha-PVP", "альфа-PVP («соль»)", "G", 5.0, 20_000.0),
             Variant("synthetic cannabinoids", "синтетические каннабиноиды (спайс)", "G", 5.0, 20_000.0)), (
        Hiding("POSTAL", "small parcels declared as bath salts", (POSTAL,)),
        Hiding("CONSUMER_GOODS", "inside electronics", (*FREIGHT, AIR, POSTAL)),
        Hiding("CARGO", "labelled as plant fertiliser", FREIGHT))),
    "PRECURSOR": ((Variant("acetic anhydride", "уксусный ангидрид", "L", 50.0, 20_000.0),
                   Variant("ephedrine", "эфедрин", "KG", 1.0, 2_000.0)), (
        Hiding("CARGO", "drums declared as paint thinner", FREIGHT), Hiding("CONVEYANCE", "tank wagon", (RAIL,)),
        Hiding("CARGO", "in canisters labelled acetic acid", FREIGHT),
        Hiding("CARGO", "sacks declared as sodium bicarbonate", FREIGHT))),
}
LIQUID_ONLY = {"tank wagon", "drums declared as paint thinner", "in canisters labelled acetic acid"}  # litres only
SOLID_ONLY = {"sacks declared as sodium bicarbonate"}  # never litres

# the most a courier, a traveller or a parcel carries, per unit (a body courier does not swallow 250 kg)
CARRY_LIMIT: dict[str, dict[str, float]] = {
    "BODY": {"KG": 1.5, "G": 1_500.0, "TABLETS": 3_000, "L": 1.0},
    "BAGGAGE": {"KG": 60.0, "G": 60_000.0, "TABLETS": 100_000, "L": 40.0},
    "POSTAL": {"KG": 5.0, "G": 5_000.0, "TABLETS": 20_000, "L": 5.0},
}
POSTAL_DETAILS = ("parcel declared as gifts", "parcel declared as spare parts")

class Party(NamedTuple):
    """A party as an agency writes it: ``name`` (script, word order and transliteration vary between
    agencies), ``country``, and ``who`` -- the real person or company (the same for every spelling of
    one party: the ground truth of entity links, never sent to the hub)."""

    name: str
    country: str
    who: str


PEOPLE: tuple[Party, ...] = (
    Party("Рахимов Фаррух Абдуллоевич", "TJ", "rakhimov"), Party("Rakhimov Farrukh", "TJ", "rakhimov"),
    Party("Каримов Дилшод", "UZ", "karimov"), Party("Karimov Dilshod", "UZ", "karimov"),
    Party("Юсупов Бахтиёр", "UZ", "yusupov"), Party("Назаров Шерзод", "TJ", "nazarov"),
    Party("Nazarov Sherzod", "TJ", "nazarov"), Party("Абдуллоев Самандар", "TJ", "abdulloev"),
    Party("Ахмедов Ильхом", "UZ", "akhmedov"), Party("Mohammad Karim Noori", "AF", "noori"),
    Party("Ahmad Shah Rahimi", "AF", "rahimi"), Party("Gul Agha Sherzai", "AF", "sherzai"),
    Party("Асанов Нурлан", "KZ", "asanov"), Party("Asanov Nurlan", "KZ", "asanov"),
    Party("Токтогулов Эрлан", "KG", "toktogulov"), Party("Toktogulov Erlan", "KG", "toktogulov"),
    Party("Бердыев Мерген", "TM", "berdyev"), Party("Mammadov Elvin", "AZ", "mammadov"),
    Party("Смирнов Андрей Викторович", "RU", "smirnov"), Party("Wang Lei", "CN", "wang"),
    Party("Ли Вэй", "CN", "li"), Party("Мамадалиев Улугбек", "KG", "mamadaliev"),
)

COMPANIES: tuple[Party, ...] = (
    Party("ООО «Сугд Фрукт»", "TJ", "sughd-fruit"), Party("Sughd Fruit LLC", "TJ", "sughd-fruit"),
    Party("Kunduz Trading Company", "AF", "kunduz-trading"), Party("Hairatan Logistics", "AF", "hairatan-logistics"),
    Party("ТОО «Жибек Жолы Транс»", "KZ", "zhibek-zholy-trans"),
    Party("Zhibek Zholy Trans LLP", "KZ", "zhibek-zholy-trans"),
    Party("Urumqi Tianshan Chemical Co., Ltd.", "CN", "tianshan-chemical"),
    Party("Xinjiang Silk Road Import-Export", "CN", "silk-road-ie"),
    Party("ОсОО «Ош Агро Экспорт»", "KG", "osh-agro"), Party("Termez Cotton Export", "UZ", "termez-cotton"),
    Party("Caspian Shipping Agency", "AZ", "caspian-shipping"), Party("ООО «ТрансЛогистик»", "RU", "translogistik"),
    Party("Mazar Dried Fruits", "AF", "mazar-fruits"), Party("Ashgabat Textile Trade", "TM", "ashgabat-textile"),
)

WHO: dict[str, str] = {p.name: p.who for p in PEOPLE + COMPANIES}
"""Party name as written -> the real party (the labels of the entity-link tests)."""

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
