"""French texts for the near-duplicate tests (issue 14 §1): a communiqué, a court report, their copies."""

from __future__ import annotations

COMMUNIQUE = (
    "Le ministère de l'Intérieur annonce le démantèlement d'un réseau de trafic de stupéfiants opérant entre "
    "Marseille et Lyon. Au terme de dix-huit mois d'enquête, les enquêteurs de l'office antistupéfiants ont "
    "interpellé quatorze personnes et saisi deux cents kilogrammes de résine de cannabis, six armes de poing "
    "et plus de quatre cent mille euros en numéraire. Les perquisitions menées simultanément dans trois "
    "départements ont également permis la saisie de onze véhicules et de deux appartements acquis avec le "
    "produit du trafic. Les suspects ont été présentés à un juge d'instruction du tribunal judiciaire de "
    "Marseille, qui a ouvert une information judiciaire des chefs de trafic de stupéfiants en bande organisée "
    "et de blanchiment. Neuf d'entre eux ont été placés en détention provisoire. Le ministre salue "
    "l'engagement des policiers et des douaniers mobilisés, et rappelle que la lutte contre le trafic reste "
    "une priorité du gouvernement dans tous les quartiers."
)

DECISION = (
    "La cour d'appel de Rennes a confirmé jeudi la condamnation d'un ancien expert-comptable pour escroquerie "
    "au préjudice de plusieurs associations du département. Entre 2017 et 2021, le prévenu avait détourné les "
    "subventions versées à ses clients en établissant de fausses factures au nom de sociétés fictives "
    "immatriculées à l'étranger. Le préjudice total est estimé à un million deux cent mille euros, dont une "
    "partie a été placée sur des comptes ouverts à Chypre et au Luxembourg. La cour a porté la peine à quatre "
    "ans d'emprisonnement dont deux avec sursis, prononcé une interdiction définitive d'exercer la profession "
    "et ordonné la confiscation d'une maison située sur la côte. Les associations parties civiles obtiennent "
    "le remboursement des sommes détournées. L'avocat du prévenu a indiqué qu'il étudiait la possibilité d'un "
    "pourvoi en cassation, tandis que le parquet général s'est félicité d'une décision qui sanctionne "
    "sévèrement l'abus de confiance commis pendant quatre années au détriment du tissu associatif local."
)

CHANGED = ("Les associations parties civiles obtiennent le remboursement des sommes détournées.",
           "Un fonds de garantie indemnisera les associations.")
"""One sentence of DECISION, and what the near copy says instead."""

NEAR_COPY = DECISION.replace(*CHANGED)

HALF = (
    DECISION[: DECISION.index(" La cour a porté")]
    + " Le prévenu conteste les faits et affirme avoir agi sur instruction des présidents d'association, "
    "qui auraient validé chaque facture lors des assemblées générales. Son conseil dénonce une enquête "
    "menée exclusivement à charge et réclame une expertise comptable contradictoire des trois derniers "
    "exercices. Le dossier sera de nouveau examiné au printemps par une autre formation de la juridiction, "
    "après la communication des pièces demandées par la défense et l'audition de deux témoins."
)
"""The first half of DECISION, then a text of its own."""
