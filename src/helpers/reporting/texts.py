"""The words of the stakeholder report: one catalogue per language, each with the same keys.

A key names a heading, label or sentence; its ``{placeholders}`` are filled by :func:`helpers.reporting.i18n.t`
with values already written the language's way. Every key exists in both languages with the same
placeholders (a test checks it). A new text goes into both catalogues.
"""

from __future__ import annotations

EN: dict[str, str] = {
    # title and executive summary
    "report_title": "Customer report {month}",
    "report_subtitle": "Data up to and including {cutoff} · analysis month {month}",
    "summary_heading": "Executive summary",
    "summary_customers": "**{customers} customers** brought **{revenue}** in revenue from {first} to {last}; "
    "{month_revenue} of it in {month} from {active} customers.",
    "summary_abc": "**{a_customers} A customers** ({a_customer_share} of all customers) bring "
    "**{a_revenue_share}** of the revenue.",
    "summary_cltv": "Expected contribution margin over the next {horizon} months: **{total_cltv}**{interval} "
    "(on average {mean_cltv} per customer).",
    "summary_cltv_interval": "; {level} likely between {low} and {high}",
    "summary_contracts": "{contract_clients} of the {customers} clients hold a contract (a retainer): their leaving is "
    "seen when it ends, so a retention model values them by the months they are expected to keep paying; the other "
    "{buyers} by their purchase history.",
    "summary_likely_lost": "{likely_lost} customers ({likely_lost_share}) are likely lost: more likely gone than still active. They are not in the four quadrants but on the win-back list.",
    "summary_quadrants": "Potential matrix: {quadrants}.",
    "summary_top_segment": "Largest RFM segment by revenue: **{segment}** ({customer_share} of customers, "
    "{revenue_share} of revenue).",
    "summary_missing": "Not yet available this month: {sections}.",
    "kf_customers": "Customers",
    "kf_revenue": "Revenue",
    "kf_revenue_month": "Revenue in {month}",
    "kf_a_share": "A customers' share of revenue",
    "kf_mean_cltv": "Mean CLTV",
    "kf_likely_lost": "Likely lost",
    "kf_quadrants": "Customers per group",
    "kf_customers_period": "Customers {period}",
    "kf_revenue_period": "Revenue {period}",
    "kf_a_share_period": "A customers' share of revenue {period}",
    "kf_expected_value": "Expected value, next {horizon} months",
    "kf_expected_value_note": "on average {mean} per customer",
    "kf_revenue_month_note": "from {active} customers",
    "kf_likely_lost_note": "more likely gone than still buying: on the win-back list",
    "kf_a_share_note": "{a_customers} customers",
    "toc_heading": "Contents",
    "table_transactions": "transactions",
    "table_accounts": "accounts",
    "table_service_map": "service map",
    "trend_title": "Revenue and active customers per month, last {months} months",
    "trend_revenue": "revenue per month",
    "trend_clients": "active customers",
    # what changed
    "changes_heading": "What changed since last month",
    "changes_first_month": "First month: no comparison yet. From next month on, this section shows who moved "
    "between segments and quadrants.",
    "changes_compared": "Compared with {previous}: {stayed} customers stayed where they were, {moved} moved, "
    "{new} are new and {gone} are gone.",
    "changes_basis_quadrant": "quadrant of the potential matrix",
    "changes_basis_segment": "RFM segment",
    "changes_table_intro": "Customers by {basis} last month (rows) and this month (columns); the diagonal "
    "stayed put.",
    "changes_chart_title": "Who moved since {previous}, by {basis}",
    "changes_chart_reading": "{moved} of {total} customers changed {basis}; {new} new, {gone} gone",
    "changes_chart_x": "this month",
    "changes_chart_y": "last month",
    "changes_new": "new",
    "changes_gone": "gone",
    "changes_into_at_risk": "Customers who moved into the RFM segment {segment}",
    "changes_into_at_risk_none": "No customer moved into the RFM segment {segment} since last month.",
    "changes_out_of_top": "Customers who left the top quadrant ({quadrant})",
    "changes_out_of_top_none": "No customer left the top quadrant ({quadrant}) since last month.",
    "changes_opportunities": "The ten largest opportunities and what to do next",
    "changes_opportunities_intro": "Live clients with much left to sell ({groups}), ranked by the money at stake: "
    "what each is expected to bring in the next {horizon} months. Scores run from 0 to 100.",
    "changes_opportunities_none": "The opportunities need the potential matrix, which is not available yet.",
    "more_rows": "Showing {shown} of {total} rows.",
    # sections
    "not_available": "**{section}** is not available for this month: `{artifact}` has not been produced "
    "(step {step}).",
    "section_matrix": "The potential matrix",
    "matrix_intro": "Every customer placed by cross- and upsell potential (to the right: more to sell) and by "
    "growth potential (upwards: growing faster). The quadrant decides the service level.",
    "matrix_title": "Potential matrix - {develop}: {count} of {live} live clients with {share} of their last "
    "12 months' revenue{note}",
    "matrix_subtitle": "point size: revenue of the last 12 months in {currency}; dashed lines: thresholds",
    "matrix_sampled": "; {shown} of {total} customers drawn",
    "matrix_corner": "{name}\n{count} clients",
    "matrix_lost": "likely lost, on the win-back list ({count})",
    "matrix_moved": "changed quadrant since last month ({count})",
    "matrix_x": "cross- and upsell potential (0-100): more to sell to the right",
    "matrix_y": "growth potential (0-100): growing faster upwards",
    "section_rfm": "RFM segments: who bought recently, often and much",
    "rfm_intro": "Each customer is scored 1 to 5 on how recently (R), how often (F) and how much (M) they bought, "
    "compared with the other customers; the scores decide the segment. The chart compares each segment's "
    "share of customers with its share of revenue.",
    "rfm_chart_title": "RFM segments: share of customers and share of revenue",
    "rfm_chart_reading": "{segment}: {customer_share} of customers bring {revenue_share} of revenue",
    "share_customers": "share of customers",
    "share_revenue": "share of revenue",
    "section_abc": "ABC analysis: where the revenue comes from",
    "abc_intro": "Customers ranked by revenue: A customers make the first {a_cut} of the revenue, B customers "
    "the next {b_cut}, C customers the rest. Quick and transparent, but one-dimensional.",
    "section_cltv": "Customer lifetime value (CLTV)",
    "cltv_intro": "What each customer is expected to bring in contribution margin over the next {horizon} "
    "months, discounted: buyers from their own purchase history, contract clients from the months they are "
    "expected to keep paying. Low and high end: the range in which each value lies "
    "with {level} probability.",
    "cltv_chart_title": "Expected value per customer over the next {horizon} months",
    "cltv_chart_reading": "the top 10% of customers hold {share} of the expected value ({total} in total)",
    "cltv_chart_x": "CLTV over {horizon} months; the last bar gathers the top 1%",
    "cltv_chart_y": "customers",
    "cltv_median": "median {value}",
    "cltv_top": "The most valuable customers",
    "section_clusters": "Clusters: groups of similar customers",
    "clusters_intro": "Customers grouped by their behaviour and company data so that customers within a group "
    "are alike; {clusters} groups this month. The groups are found afresh each month, so they are not compared "
    "with last month's.",
    "section_quadrants": "Quadrants and service levels",
    "quadrants_intro": "How many live clients each quadrant holds and how that changed since last month. "
    "Clients who are likely lost are not in a quadrant: they form the win-back group, with a retention call.",
    "attention_intro": "Where the management hours go. Attention follows potential, with one floor: a live "
    "client of class A by expected value (together the first 80% of the value at stake) never gets less than "
    "the half-yearly account review, whatever its quadrant (Protect).",
    "attention_intro_retail": "What each group gets: the offers and campaigns per group, with one floor: a live "
    "customer of class A by expected value (together the first 80% of the value at stake) always gets the VIP "
    "service, whatever the group (Protect).",
    "section_backtest": "Do the scores predict anything? A look back",
    "backtest_intro": "The same scores, computed as if it were {months} months ago with only the data known then, "
    "against what the clients did since.",
    "backtest_chart_title": "Revenue change per group, clients scored as of {as_of}",
    "backtest_chart_y": "revenue change in {months} months",
    # footer
    "footer_heading": "About this report",
    "footer_cutoff": "Data cut-off: {cutoff} (analysis month {month}).",
    "footer_inputs": "Input files, rows read, accepted and rejected:",
    "footer_cltv_model": "CLTV model: {model}.",
    "footer_version": "Segment workbook version {version}; report produced on {run_time}.",
    "footer_privacy": "Customer names and ids are pseudonymised in this report and in the analysis notebooks "
    "published with it; the CRM export keeps the real values and is therefore not published with it.",
    "footer_not_checked": "not available",
    # table columns
    "col_customer": "customer",
    "col_name": "name",
    "col_segment": "segment",
    "col_class": "class",
    "col_customers": "customers",
    "col_customer_share": "share of customers",
    "col_revenue": "revenue",
    "col_revenue_share": "share of revenue",
    "col_recency": "days since last purchase (mean)",
    "col_meaning": "meaning",
    "col_action": "what to do",
    "col_cltv": "CLTV",
    "col_cltv_low": "CLTV, low end",
    "col_cltv_high": "CLTV, high end",
    "col_p_alive": "probability still active",
    "col_quadrant": "quadrant",
    "col_service_level": "service level",
    "col_attention": "attention",
    "col_hours": "hours per client and month",
    "col_hours_total": "hours per month",
    "col_hours_share": "share of the hours",
    "col_value_at_stake": "value at stake (expected value)",
    "col_next_action": "next action",
    "col_upsell": "upsell potential",
    "col_growth": "growth potential",
    "col_cluster": "cluster",
    "col_mean_cltv": "mean CLTV",
    "col_last_month": "last month",
    "col_this_month": "this month",
    "col_change": "change",
    "col_likely_lost_share": "share likely lost",
    "col_before": "before",
    "col_now": "now",
    "col_table": "table",
    "col_file": "file",
    "col_read": "read",
    "col_accepted": "accepted",
    "col_rejected": "rejected",
    "col_month": "month",
    "col_report": "report",
    # the index page
    "index_title": "Customer reports",
    "index_intro": "Every published month of each data set, newest first, with its key figures and its report "
    "in each language it was published in.",
    "index_dataset": "Data set {name}",
    "index_version": "Segment workbook {version}.",
    "index_open": "open report",
    "index_details": "analysis steps",
    "index_empty": "No month has been published yet.",
    "index_generated": "Page produced on {run_time}.",
    # names of sections and artifacts
    "name_rfm": "RFM and ABC",
    "name_cltv": "CLTV",
    "name_clusters": "clusters",
    "name_matrix": "potential matrix",
    "alias_prefix": "Customer",
}

DE: dict[str, str] = {
    "report_title": "Kundenbericht {month}",
    "report_subtitle": "Daten bis einschließlich {cutoff} · Analysemonat {month}",
    "summary_heading": "Das Wichtigste in Kürze",
    "summary_customers": "**{customers} Kunden** brachten vom {first} bis {last} **{revenue}** Umsatz; "
    "davon {month_revenue} im {month} von {active} Kunden.",
    "summary_abc": "**{a_customers} A-Kunden** ({a_customer_share} aller Kunden) bringen "
    "**{a_revenue_share}** des Umsatzes.",
    "summary_cltv": "Erwarteter Deckungsbeitrag in den nächsten {horizon} Monaten: **{total_cltv}**{interval} "
    "(im Schnitt {mean_cltv} je Kunde).",
    "summary_cltv_interval": "; mit {level} Wahrscheinlichkeit zwischen {low} und {high}",
    "summary_contracts": "{contract_clients} der {customers} Kunden haben einen Vertrag (einen Retainer): ihre "
    "Kündigung wird sichtbar, wenn er endet, daher bewertet ein Bindungsmodell sie nach den Monaten, die sie "
    "voraussichtlich weiter zahlen; die übrigen {buyers} nach ihrer Kaufhistorie.",
    "summary_likely_lost": "{likely_lost} Kunden ({likely_lost_share}) sind wahrscheinlich verloren: eher abgewandert als noch aktiv. Sie stehen nicht in den vier Quadranten, sondern auf der Rückgewinnungsliste.",
    "summary_quadrants": "Potenzialmatrix: {quadrants}.",
    "summary_top_segment": "Umsatzstärkstes RFM-Segment: **{segment}** ({customer_share} der Kunden, "
    "{revenue_share} des Umsatzes).",
    "summary_missing": "In diesem Monat noch nicht verfügbar: {sections}.",
    "kf_customers": "Kunden",
    "kf_revenue": "Umsatz",
    "kf_revenue_month": "Umsatz im {month}",
    "kf_a_share": "Umsatzanteil der A-Kunden",
    "kf_mean_cltv": "CLTV im Schnitt",
    "kf_likely_lost": "Wahrscheinlich verloren",
    "kf_quadrants": "Kunden je Gruppe",
    "kf_customers_period": "Kunden {period}",
    "kf_revenue_period": "Umsatz {period}",
    "kf_a_share_period": "Umsatzanteil der A-Kunden {period}",
    "kf_expected_value": "Erwarteter Wert, nächste {horizon} Monate",
    "kf_expected_value_note": "im Schnitt {mean} je Kunde",
    "kf_revenue_month_note": "von {active} Kunden",
    "kf_likely_lost_note": "eher abgewandert als noch aktiv: auf der Rückgewinnungsliste",
    "kf_a_share_note": "{a_customers} Kunden",
    "toc_heading": "Inhalt",
    "table_transactions": "Umsätze",
    "table_accounts": "Kundenstamm",
    "table_service_map": "Leistungsübersicht",
    "trend_title": "Umsatz und aktive Kunden je Monat, letzte {months} Monate",
    "trend_revenue": "Umsatz je Monat",
    "trend_clients": "aktive Kunden",
    "changes_heading": "Was sich seit dem Vormonat geändert hat",
    "changes_first_month": "Erster Monat: noch kein Vergleich möglich. Ab dem nächsten Monat zeigt dieser "
    "Abschnitt, wer zwischen Segmenten und Quadranten gewechselt hat.",
    "changes_compared": "Im Vergleich zu {previous}: {stayed} Kunden sind geblieben, wo sie waren, {moved} haben "
    "gewechselt, {new} sind neu und {gone} sind weggefallen.",
    "changes_basis_quadrant": "Quadrant der Potenzialmatrix",
    "changes_basis_segment": "RFM-Segment",
    "changes_table_intro": "Kunden nach {basis} im Vormonat (Zeilen) und in diesem Monat (Spalten); auf der "
    "Diagonale stehen die, die geblieben sind.",
    "changes_chart_title": "Wechsel seit {previous} ({basis})",
    "changes_chart_reading": "{moved} von {total} Kunden haben gewechselt ({basis}); {new} neu, {gone} weggefallen",
    "changes_chart_x": "dieser Monat",
    "changes_chart_y": "Vormonat",
    "changes_new": "neu",
    "changes_gone": "weggefallen",
    "changes_into_at_risk": "Kunden, die neu im Segment „{segment}“ sind",
    "changes_into_at_risk_none": "Seit dem Vormonat ist kein Kunde ins Segment „{segment}“ gewechselt.",
    "changes_out_of_top": "Kunden, die den besten Quadranten ({quadrant}) verlassen haben",
    "changes_out_of_top_none": "Seit dem Vormonat hat kein Kunde den besten Quadranten ({quadrant}) verlassen.",
    "changes_opportunities": "Die zehn größten Chancen und der nächste Schritt",
    "changes_opportunities_intro": "Aktive Kunden, denen noch viel zu verkaufen ist ({groups}), geordnet nach dem "
    "Wert, um den es geht: was jeder in den nächsten {horizon} Monaten voraussichtlich bringt. Die Werte der "
    "Einstufung reichen von 0 bis 100.",
    "changes_opportunities_none": "Die Chancen brauchen die Potenzialmatrix, die noch nicht verfügbar ist.",
    "more_rows": "{shown} von {total} Zeilen gezeigt.",
    "not_available": "**{section}** ist für diesen Monat nicht verfügbar: `{artifact}` wurde nicht erzeugt "
    "(Schritt {step}).",
    "section_matrix": "Die Potenzialmatrix",
    "matrix_intro": "Jeder Kunde nach Cross- und Upselling-Potenzial (nach rechts: mehr zu verkaufen) und "
    "Wachstumspotenzial (nach oben: wächst schneller). Der Quadrant bestimmt die Betreuungsstufe.",
    "matrix_title": "Potenzialmatrix – {develop}: {count} von {live} aktiven Kunden mit {share} ihres Umsatzes "
    "der letzten 12 Monate{note}",
    "matrix_subtitle": "Punktgröße: Umsatz der letzten 12 Monate in {currency}; gestrichelte Linien: Schwellenwerte",
    "matrix_sampled": "; {shown} von {total} Kunden gezeichnet",
    "matrix_corner": "{name}\n{count} Kunden",
    "matrix_lost": "wahrscheinlich verloren, auf der Rückgewinnungsliste ({count})",
    "matrix_moved": "seit dem Vormonat den Quadranten gewechselt ({count})",
    "matrix_x": "Cross- und Upselling-Potenzial (0–100): nach rechts mehr zu verkaufen",
    "matrix_y": "Wachstumspotenzial (0–100): nach oben schnelleres Wachstum",
    "section_rfm": "RFM-Segmente: wer kürzlich, oft und viel gekauft hat",
    "rfm_intro": "Jeder Kunde erhält Punkte von 1 bis 5 dafür, wie kürzlich (R), wie oft (F) und wie viel (M) "
    "er im Vergleich zu den anderen Kunden gekauft hat; die Punkte bestimmen das Segment. Die Grafik "
    "vergleicht den Kundenanteil jedes Segments mit seinem Umsatzanteil.",
    "rfm_chart_title": "RFM-Segmente: Anteil an Kunden und Anteil am Umsatz",
    "rfm_chart_reading": "{segment}: {customer_share} der Kunden bringen {revenue_share} des Umsatzes",
    "share_customers": "Anteil an Kunden",
    "share_revenue": "Anteil am Umsatz",
    "section_abc": "ABC-Analyse: woher der Umsatz kommt",
    "abc_intro": "Kunden nach Umsatz geordnet: A-Kunden machen die ersten {a_cut} des Umsatzes, B-Kunden die "
    "nächsten {b_cut}, C-Kunden den Rest. Schnell und nachvollziehbar, aber eindimensional.",
    "section_cltv": "Kundenwert (CLTV)",
    "cltv_intro": "Was jeder Kunde in den nächsten {horizon} Monaten voraussichtlich an Deckungsbeitrag bringt, "
    "abgezinst: bei Käufern aus ihrer eigenen Kaufhistorie, bei Vertragskunden aus den Monaten, die sie "
    "voraussichtlich weiter zahlen. Unteres und oberes Ende: der Bereich, in "
    "dem jeder Wert mit {level} Wahrscheinlichkeit liegt.",
    "cltv_chart_title": "Erwarteter Wert je Kunde in den nächsten {horizon} Monaten",
    "cltv_chart_reading": "die besten 10 % der Kunden halten {share} des erwarteten Werts (insgesamt {total})",
    "cltv_chart_x": "CLTV über {horizon} Monate; der letzte Balken sammelt die besten 1 %",
    "cltv_chart_y": "Kunden",
    "cltv_median": "Median {value}",
    "cltv_top": "Die wertvollsten Kunden",
    "section_clusters": "Cluster: Gruppen ähnlicher Kunden",
    "clusters_intro": "Kunden nach Kaufverhalten und Unternehmensdaten gruppiert, sodass sich die Kunden einer "
    "Gruppe ähneln; in diesem Monat {clusters} Gruppen. Die Gruppen werden jeden Monat neu gebildet und deshalb "
    "nicht mit denen des Vormonats verglichen.",
    "section_quadrants": "Quadranten und Betreuungsstufen",
    "quadrants_intro": "Wie viele aktive Kunden jeder Quadrant hat und wie sich das seit dem Vormonat verändert "
    "hat. Wahrscheinlich verlorene Kunden stehen in keinem Quadranten: sie bilden die Rückgewinnungsgruppe, mit "
    "einem Rückgewinnungs-Anruf.",
    "attention_intro": "Wohin die Stunden der Kundenbetreuung gehen. Die Aufmerksamkeit folgt dem Potenzial, "
    "mit einer Untergrenze: ein aktiver A-Kunde nach erwartetem Wert (zusammen die ersten 80 % des Werts) "
    "erhält nie weniger als die halbjährliche Kundenbesprechung, in welchem Quadranten er auch steht (Absichern).",
    "attention_intro_retail": "Was jede Gruppe erhält: die Angebote und Aktionen je Gruppe, mit einer Untergrenze: "
    "ein aktiver A-Kunde nach erwartetem Wert (zusammen die ersten 80 % des Werts) erhält immer den VIP-Service, "
    "in welcher Gruppe er auch steht (Absichern).",
    "section_backtest": "Sagen die Einstufungen etwas voraus? Ein Rückblick",
    "backtest_intro": "Dieselben Einstufungen, berechnet wie vor {months} Monaten nur mit den damals bekannten Daten, "
    "verglichen mit dem, was die Kunden seitdem getan haben.",
    "backtest_chart_title": "Umsatzänderung je Gruppe, Kunden eingestuft zum {as_of}",
    "backtest_chart_y": "Umsatzänderung in {months} Monaten",
    "footer_heading": "Über diesen Bericht",
    "footer_cutoff": "Datenstand: {cutoff} (Analysemonat {month}).",
    "footer_inputs": "Eingabedateien, gelesene, übernommene und abgelehnte Zeilen:",
    "footer_cltv_model": "CLTV-Modell: {model}.",
    "footer_version": "Segment-Workbook Version {version}; Bericht erstellt am {run_time}.",
    "footer_privacy": "Kundennamen und -nummern sind in diesem Bericht und in den mit ihm veröffentlichten "
    "Analyse-Notebooks pseudonymisiert; der CRM-Export enthält die echten Werte und wird deshalb nicht mit "
    "ihm veröffentlicht.",
    "footer_not_checked": "nicht verfügbar",
    "col_customer": "Kunde",
    "col_name": "Name",
    "col_segment": "Segment",
    "col_class": "Klasse",
    "col_customers": "Kunden",
    "col_customer_share": "Anteil an Kunden",
    "col_revenue": "Umsatz",
    "col_revenue_share": "Anteil am Umsatz",
    "col_recency": "Tage seit letztem Kauf (Mittel)",
    "col_meaning": "Bedeutung",
    "col_action": "was zu tun ist",
    "col_cltv": "CLTV",
    "col_cltv_low": "CLTV, unteres Ende",
    "col_cltv_high": "CLTV, oberes Ende",
    "col_p_alive": "Wahrscheinlichkeit noch aktiv",
    "col_quadrant": "Quadrant",
    "col_service_level": "Betreuungsstufe",
    "col_attention": "Betreuung",
    "col_hours": "Stunden je Kunde und Monat",
    "col_hours_total": "Stunden pro Monat",
    "col_hours_share": "Anteil der Stunden",
    "col_value_at_stake": "Wert (erwarteter Wert)",
    "col_next_action": "nächster Schritt",
    "col_upsell": "Upselling-Potenzial",
    "col_growth": "Wachstumspotenzial",
    "col_cluster": "Cluster",
    "col_mean_cltv": "CLTV im Schnitt",
    "col_last_month": "Vormonat",
    "col_this_month": "dieser Monat",
    "col_change": "Veränderung",
    "col_likely_lost_share": "Anteil wahrscheinlich verloren",
    "col_before": "vorher",
    "col_now": "jetzt",
    "col_table": "Tabelle",
    "col_file": "Datei",
    "col_read": "gelesen",
    "col_accepted": "übernommen",
    "col_rejected": "abgelehnt",
    "col_month": "Monat",
    "col_report": "Bericht",
    "index_title": "Kundenberichte",
    "index_intro": "Alle veröffentlichten Monate jedes Datensatzes, der neueste zuerst, mit ihren Kennzahlen und "
    "dem Bericht in jeder Sprache, in der er erschienen ist.",
    "index_dataset": "Datensatz {name}",
    "index_version": "Segment-Workbook {version}.",
    "index_open": "Bericht öffnen",
    "index_details": "Analyseschritte",
    "index_empty": "Es wurde noch kein Monat veröffentlicht.",
    "index_generated": "Seite erstellt am {run_time}.",
    "name_rfm": "RFM und ABC",
    "name_cltv": "CLTV",
    "name_clusters": "Cluster",
    "name_matrix": "Potenzialmatrix",
    "alias_prefix": "Kunde",
}

TEXTS: dict[str, dict[str, str]] = {"en": EN, "de": DE}
