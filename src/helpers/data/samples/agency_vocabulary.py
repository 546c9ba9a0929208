"""The words of the agency sample: its industries (share, usual funnel type, business models, budget
factor and the words of company names), regions, and German company names drawn from surnames, places
and legal forms by size (`company_names`)."""

from __future__ import annotations

import numpy as np

# fmt: off
# industry: weight, default funnel type, business model probabilities (B2B, B2C, B2B2C),
# budget factor, name words
INDUSTRIES: dict[str, tuple[float, str, tuple[float, float, float], float, tuple[str, ...]]] = {
    "E-Commerce": (0.14, "retail", (0.05, 0.80, 0.15), 1.6, ("Versand", "Onlineshop", "Direkt", "Shop", "Handelshaus")),
    "Retail": (0.11, "retail", (0.05, 0.90, 0.05), 1.1, ("Feinkost", "Moden", "Schuhhaus", "Optik", "Einrichtung", "Sport")),
    "Food & Beverage": (0.06, "retail", (0.15, 0.60, 0.25), 1.0, ("Brauerei", "Kaffeerösterei", "Weinkontor", "Manufaktur", "Backwaren")),
    "Tourism": (0.07, "retail", (0.10, 0.80, 0.10), 1.0, ("Reisen", "Hotel", "Touristik", "Ferienwelt", "Camping")),
    "SaaS": (0.10, "lead_gen", (0.85, 0.05, 0.10), 1.5, ("Software", "Digital", "Cloud Systems", "Data", "Solutions")),
    "Professional services": (0.11, "lead_gen", (0.85, 0.10, 0.05), 0.7, ("Steuerberatung", "Consulting", "Rechtsanwälte", "Personalberatung", "Partner")),
    "Healthcare": (0.08, "lead_gen", (0.25, 0.55, 0.20), 0.9, ("Praxisklinik", "Pharma", "Medizintechnik", "Pflegedienste", "Dental")),
    "Education": (0.04, "lead_gen", (0.30, 0.60, 0.10), 0.6, ("Akademie", "Bildungswerk", "Sprachschule", "Institut")),
    "Real estate": (0.05, "lead_gen", (0.30, 0.60, 0.10), 0.9, ("Immobilien", "Wohnbau", "Projektentwicklung", "Hausverwaltung")),
    "Manufacturing": (0.13, "business_industry", (0.90, 0.02, 0.08), 0.8, ("Maschinenbau", "Werkzeugbau", "Metallbau", "Kunststofftechnik", "Antriebstechnik", "Elektrotechnik")),
    "Wholesale": (0.07, "business_industry", (0.85, 0.05, 0.10), 0.7, ("Großhandel", "Baustoffe", "Agrarhandel", "Industriebedarf", "Vertrieb")),
    "Logistics": (0.04, "business_industry", (0.90, 0.05, 0.05), 0.6, ("Logistik", "Spedition", "Transporte", "Lagertechnik")),
}

REGIONS: dict[str, float] = {
    "Nordrhein-Westfalen": 0.17, "Bayern": 0.16, "Baden-Württemberg": 0.14, "Niedersachsen": 0.08,
    "Hessen": 0.08, "Berlin": 0.06, "Hamburg": 0.05, "Sachsen": 0.04, "Rheinland-Pfalz": 0.04,
    "Schleswig-Holstein": 0.03, "Brandenburg": 0.02, "Thüringen": 0.02, "Sachsen-Anhalt": 0.015,
    "Mecklenburg-Vorpommern": 0.015, "Saarland": 0.01, "Bremen": 0.01, "Wien": 0.025, "Salzburg": 0.01,
    "Tirol": 0.01, "Zürich": 0.015, "Basel": 0.005,
}

SURNAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
    "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
    "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber",
    "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Vogel", "Keller",
    "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht",
    "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Schumacher", "Krämer", "Vogt", "Stein",
    "Jäger", "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt", "Haas", "Dietrich", "Engel",
)
PLACES = (
    "Alpen", "Nord", "Süd", "Rhein", "Elb", "Isar", "Main", "Spree", "Donau", "Weser", "Ostsee", "Harz",
    "Bodensee", "Hanse", "Neckar", "Mosel", "Eifel", "Allgäu", "Taunus", "Schwarzwald", "Ruhr", "Saale",
)
# fmt: on
LEGAL_SMALL = ("e.K.", "UG (haftungsbeschränkt)", "GmbH", "GmbH", "OHG")
LEGAL_MEDIUM = ("GmbH", "GmbH", "GmbH", "GmbH & Co. KG", "KG")
LEGAL_LARGE = ("AG", "GmbH", "GmbH & Co. KG", "SE")


def company_names(rng: np.random.Generator, industries: list[str], employees: np.ndarray) -> list[str]:
    """One unique name per client, in the words of its industry, with a legal form that fits its size."""
    names: list[str] = []
    taken: set[str] = set()
    for industry, size in zip(industries, employees, strict=True):
        words = INDUSTRIES[industry][4]
        legal = LEGAL_SMALL if size < 10 else LEGAL_MEDIUM if size < 250 else LEGAL_LARGE
        for attempt in range(200):
            pattern = rng.integers(0, 5)
            word = str(rng.choice(words))
            surname = str(rng.choice(SURNAMES))
            if pattern == 0:
                base = f"{surname} {word}"
            elif pattern == 1:
                base = f"{rng.choice(PLACES)}-{word}"
            elif pattern == 2:
                other = str(rng.choice(SURNAMES))
                base = f"{surname} & {other}" if other != surname else f"{surname} & Söhne"
                if industry not in ("Professional services", "Real estate", "Healthcare"):
                    base = f"{base} {word}"
            elif pattern == 3:
                base = f"{word} {surname}"
            else:
                base = f"{word} {rng.choice(PLACES)}"
            name = f"{base} {rng.choice(legal)}"
            if attempt >= 100:  # practically never: make it unique with a place name
                name = f"{base} {rng.choice(PLACES)} {rng.choice(legal)}"
            if name not in taken:
                break
        else:  # pragma: no cover - 200 collisions in a row
            raise RuntimeError("could not draw a unique company name")
        taken.add(name)
        names.append(name)
    return names
