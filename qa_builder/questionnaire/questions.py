"""The interview that writes an answers file: asks only what applies, validates each answer as typed."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Protocol, get_args

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from qa_builder import clock
from qa_builder.library.jurisdictions import bundled_jurisdictions
from qa_builder.models import answers as m
from qa_builder.models.text import LIST_LIMIT, TEXT_LIMIT, InputModel, date_problem, text_problem

Validator = Callable[[str], Any]

TESTING_SERVICES = ("qc_testing", "release_testing", "stability_testing")
LOCAL_HOLDER_MARKETS = ("JP", "CH", "CA", "AU", "KR")


class Applies:
    """When the arrangement questions apply: the one place that says so."""

    @staticmethod
    def dosage_form(product: dict[str, Any]) -> bool:
        """Drug substances have no dosage form."""
        return product["type"] not in m.DRUG_SUBSTANCE_TYPES

    @staticmethod
    def application_type(product: dict[str, Any]) -> bool:
        """Only where the type and market leave a choice that decides a duty (NDA/ANDA/OTC monograph in the US:
        Field Alert Reports); elsewhere the jurisdiction rules derive it."""
        return "US" in product["markets"] and product["type"] in ("drug_product", "sterile_drug_product",
                                                                   "otc_drug_product")

    @staticmethod
    def trial(product: dict[str, Any]) -> bool:
        """Investigational products are supplied for a trial."""
        return bool(product["type"] == "investigational")

    @staticmethod
    def eu_legal_representative(product: dict[str, Any]) -> bool:
        """A trial in the EU may need the sponsor's EU legal representative (Reg (EU) 536/2014 Art 74)."""
        return Applies.trial(product) and "EU" in product["markets"]

    @staticmethod
    def own_release(products: list[dict[str, Any]]) -> bool:
        """Products with different markets may need different release arrangements."""
        return len({tuple(sorted(p["markets"])) for p in products}) > 1

    @staticmethod
    def release_parties(model: str) -> bool:
        """Who certifies, where, is asked under QP certification."""
        return model == "qp_certification"

    @staticmethod
    def affiliates(markets: set[str], sponsor_country: str = "") -> bool:
        """Markets where a local marketing authorisation holder or importer is usually an affiliate, and the
        EU/EEA when the Sponsor is established outside it (the holder of an EU/EEA marketing authorisation must
        be established there: Regulation (EC) No 726/2004 Art 2)."""
        return bool(markets & set(LOCAL_HOLDER_MARKETS)) or ("EU" in markets and _outside_eea(sponsor_country))

    @staticmethod
    def subcontractor_tests(activities: list[str]) -> bool:
        """Named tests are asked of testing subcontractors."""
        return bool(set(activities) & set(TESTING_SERVICES))


class Asker(Protocol):
    """Asks one question; returns the validated value (re-asking on invalid input is the asker's job)."""

    def section(self, title: str, note: str = "") -> None:
        """Announce a group of questions."""

    def ask(self, key: str, prompt: str, default: str | None, parse: Validator) -> Any:
        """Ask `prompt`; `default` is shown and used on an empty answer; `parse` raises ValueError when invalid."""


def value_at(data: Mapping[str, Any], key: str) -> Any:
    """The value at a question key (``contract_acceptor.sites[0].name``) in answers data, or None where it has none."""
    node: Any = data
    for part in key.replace("]", "").replace("[", ".").split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


class Interview:
    """Builds the answers data question by question."""

    def __init__(self, asker: Asker, start: dict[str, Any] | None = None) -> None:
        self.asker = asker
        self.start = start or {}

    # -- helpers ------------------------------------------------------------------------------------

    def _prior(self, key: str) -> Any:
        return value_at(self.start, key)

    def field(self, key: str, prompt: str, model: type[BaseModel], name: str, default: Any = None) -> Any:
        """Ask for one model field, validated with the field's own type and constraints."""
        info = model.model_fields[name]
        adapter = _adapter(model, name)
        if isinstance(default, list | dict) and not default:
            # a default taken from another answer that is still empty (the web replay's unanswered marker is an
            # empty list) is no default: it was offered as the text "[]" and saved as a signatory's name
            default = None
        prior = self._prior(key)
        if prior is None:
            prior = default if default is not None else (None if info.is_required() else info.get_default(
                call_default_factory=True))
        optional = not info.is_required() or type(None) in get_args(info.annotation)

        text_limit = model.field_text_limits.get(name, model.text_limit) if issubclass(model, InputModel) \
            else TEXT_LIMIT
        list_limit = model.field_list_limits.get(name, model.list_limit) if issubclass(model, InputModel) \
            else LIST_LIMIT

        def parse(raw: str) -> Any:
            text = raw.strip()
            if not text and optional and prior is None:
                return None
            if len(text) > text_limit:  # before any parsing: a 3,000,000-character name was taken and saved
                raise ValueError(_too_long(len(text), text_limit))
            value: Any = text
            if _is_bool(info.annotation):
                if text.lower() not in ("y", "yes", "n", "no", "true", "false"):
                    raise ValueError("answer yes or no")
                value = text.lower() in ("y", "yes", "true")
            try:
                return _fits(adapter.validate_python(value), text_limit, list_limit)
            except ValidationError as exc:
                if isinstance(value, str) and value.isdigit():  # Literal[1, 2] and the like take numbers
                    try:
                        return _fits(adapter.validate_python(int(value)), text_limit, list_limit)
                    except ValidationError:
                        pass
                raise ValueError(_plain(exc)) from None

        return self.asker.ask(key, prompt, _show(prior), parse)

    def items(self, key: str, prompt: str, allowed: tuple[str, ...], default: list[str] | None = None,
              *, required: bool = True) -> list[str]:
        """Ask for a comma-separated list of values from `allowed`."""
        prior = self._prior(key)
        prior = prior if prior is not None else default

        def parse(raw: str) -> list[str]:
            values = [v.strip() for v in raw.split(",") if v.strip()]
            unknown = [v for v in values if v not in allowed]
            if unknown:
                shown = ", ".join(v if len(v) <= 40 else f"{v[:40]}…" for v in unknown[:5])  # echoed, bounded
                more = ", …" if len(unknown) > 5 else ""
                raise ValueError(f"unknown: {shown}{more}; choose from {', '.join(allowed)}")
            if required and not values:
                raise ValueError("give at least one, separated by commas")
            if len(set(values)) != len(values):
                raise ValueError("a value is listed twice")
            return values

        # a hand-edited file may hold anything here: it is shown as text, and the parser says what is wrong with it
        shown = ", ".join(str(v) for v in prior) if isinstance(prior, list) else _show(prior)
        chosen: list[str] = self.asker.ask(key, f"{prompt} [{', '.join(allowed)}]", shown or None, parse)
        return chosen

    def count(self, key: str, prompt: str, default: int, minimum: int = 1) -> int:
        """Ask how many items a list has."""
        prior = self._prior(key)
        shown = str(len(prior)) if isinstance(prior, list) and prior else str(default)

        def parse(raw: str) -> int:
            if not raw.strip().isdigit() or not minimum <= int(raw) <= 50:
                raise ValueError(f"give a whole number from {minimum} to 50")
            return int(raw)

        answer = self.asker.ask(key, prompt, shown, parse)
        if isinstance(answer, int):
            return answer
        # An asker that does not ask again (the web app's form) gives no number for a wrong answer: the questions
        # that follow keep the items the answers already have, and the wrong answer is its own question's error.
        return min(len(prior), 50) if isinstance(prior, list) else default

    # -- the interview ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Ask every question that applies; return answers data that validates as Answers."""
        data: dict[str, Any] = {}
        data["agreement"] = self._agreement()
        data["sponsor"] = self._party("sponsor", "Sponsor (marketing authorisation / NDA / BLA holder)", m.Sponsor)
        data["contract_acceptor"] = self._acceptor()
        sponsor_country = str(data["sponsor"].get("country") or "")
        if Applies.affiliates(self._markets_hint(), sponsor_country):
            data["affiliates"] = self._affiliates()
        data["products"] = self._products(data["sponsor"])
        markets = {mk for p in data["products"] for mk in p["markets"]}
        if "affiliates" not in data and Applies.affiliates(markets, sponsor_country):
            data["affiliates"] = self._affiliates()
        site_services = [s for site in data["contract_acceptor"]["sites"] for s in site["activities"]]
        data["services"] = self.items("services", "Services the contract acceptor performs", _options(m.Service),
                                      default=list(dict.fromkeys(site_services)))
        data["release_model"], data["release"] = self._release(data["products"])
        if Applies.own_release(data["products"]):
            self._product_releases(data["products"], data["release_model"])
        data["change_control"] = self._change_control()
        data["subcontracting"] = self._subcontracting()
        if data["contract_acceptor"]["kind"] == "cdmo" or "tech_transfer" in data["services"]:
            data["tech_transfer"] = self._tech_transfer()
        data["inspections"] = self._inspections()
        data["audits"] = self._audits()
        data["deviations"] = self._simple("deviations", "Deviations, OOS and investigations", m.Deviations, {
            "critical_notify_hours": "Hours to notify the Sponsor of a critical deviation",
            "major_notify_business_days": "Business days to notify a major deviation or OOS",
            "investigation_closure_days": "Days to close an investigation",
            "extension_process": "Can the closure date be extended by written agreement? (yes/no)",
        })
        data["complaints"] = self._simple("complaints", "Complaints", m.Complaints, {
            "forward_business_days": "Business days for the Sponsor to forward a complaint",
            "acknowledge_business_days": "Business days for the contract acceptor to acknowledge it",
            "critical_assessment_hours": "Hours to assess a critical complaint",
            "final_report_days": "Days to the final investigation report",
            "joint_investigation": "Investigate jointly before a root cause is assigned to the acceptor? (yes/no)",
        })
        data["records"] = self._records(markets)
        data["term"] = self._simple("term", "Term, termination and exit", m.Term, {
            "initial_years": "Initial term in years",
            "termination_notice_months": "Months of notice to terminate",
            "exit_handover": "Hand over master batch records, retained samples and stability inventory "
                             "on exit? (yes/no)",
        })
        data["signatories"] = self._signatories(data, markets)
        return self._keep_unasked(data)

    def _markets_hint(self) -> set[str]:
        """Markets of the starting file (affiliates are asked before the products when it has them)."""
        products = self.start.get("products")
        if not isinstance(products, list):
            return set()
        return {str(mk) for p in products if isinstance(p, dict) and isinstance(p.get("markets"), list)
                for mk in p["markets"]}

    def _affiliates(self) -> list[dict[str, Any]]:
        self.asker.section("Affiliates", "e.g. the Japanese marketing authorisation holder of the Sponsor's group")
        found = []
        for i in range(self.count("affiliates", "How many affiliates join the agreement or sign for a party "
                                  "(0 if none)", 0, minimum=0)):
            key = f"affiliates[{i}]"
            self.asker.section(f"Affiliate {i + 1}")
            found.append({
                "name": self.field(f"{key}.name", "Legal name", m.Affiliate, "name"),
                "address": self.field(f"{key}.address", "Address", m.Affiliate, "address"),
                "country": self.field(f"{key}.country", "Country", m.Affiliate, "country"),
                "role": self.field(f"{key}.role", "Its role (e.g. Japanese marketing authorisation holder (GQP))",
                                   m.Affiliate, "role"),
                "affiliate_of": self.field(f"{key}.affiliate_of", "Affiliate of [sponsor, contract_acceptor]",
                                           m.Affiliate, "affiliate_of", "sponsor"),
                "markets": self.items(f"{key}.markets", "Markets it acts for", _options(m.Market), required=False),
                "holds_marketing_authorisation": self.field(
                    f"{key}.holds_marketing_authorisation", "Does it hold the marketing authorisation of the "
                    "Products for those markets? (yes/no)", m.Affiliate, "holds_marketing_authorisation"),
            })
        return found

    def _keep_unasked(self, data: dict[str, Any]) -> dict[str, Any]:
        """Carry over from the starting file what the interview does not ask (RACI overrides, positions...)."""
        merged: dict[str, Any] = {key: _merge(self.start.get(key), value) for key, value in data.items()}
        for key in ("responsibilities", "positions", "revision_history"):
            if key in self.start:
                merged[key] = self.start[key]
        return merged

    def _agreement(self) -> dict[str, Any]:
        self.asker.section("The agreement")
        first_of_next_month = (clock.today().replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        return {
            "id": self.field("agreement.id", "Agreement id (letters, digits, . _ -)", m.AgreementInfo, "id"),
            "title": self.field("agreement.title", "Title", m.AgreementInfo, "title"),
            "version": self.field("agreement.version", "Version", m.AgreementInfo, "version", 1),
            "effective_date": self.field("agreement.effective_date", "Effective date (YYYY-MM-DD)", m.AgreementInfo,
                                         "effective_date", first_of_next_month),
            "review_period_months": self.field("agreement.review_period_months",
                                               "Review the agreement every how many months (typically 24-36)",
                                               m.AgreementInfo, "review_period_months", 24),
            "standalone": self.field("agreement.standalone", "Is it a stand-alone agreement, separate from the "
                                     "commercial agreement? (yes/no)", m.AgreementInfo, "standalone"),
            "commercial_agreement": self.field("agreement.commercial_agreement", "Related commercial agreement "
                                               "(name and date; blank if none)", m.AgreementInfo,
                                               "commercial_agreement"),
        }

    def _contact(self, prefix: str) -> dict[str, Any]:
        return {
            "name": self.field(f"{prefix}.name", "Quality contact: name", m.Contact, "name"),
            "title": self.field(f"{prefix}.title", "Quality contact: job title", m.Contact, "title"),
            "email": self.field(f"{prefix}.email", "Quality contact: e-mail", m.Contact, "email"),
        }

    def _party(self, key: str, title: str, model: type[BaseModel]) -> dict[str, Any]:
        self.asker.section(title)
        return {
            "name": self.field(f"{key}.name", "Legal name", model, "name"),
            "address": self.field(f"{key}.address", "Registered address", model, "address"),
            "country": self.field(f"{key}.country", "Country", model, "country"),
            "quality_contact": self._contact(f"{key}.quality_contact"),
        }

    def _acceptor(self) -> dict[str, Any]:
        self.asker.section("Contract acceptor", "the CMO, CDMO or contract laboratory")
        kind = self.field("contract_acceptor.kind", "Kind [cmo, cdmo, contract_laboratory]", m.ContractAcceptor,
                          "kind")
        party = self._party("contract_acceptor", "Contract acceptor details", m.ContractAcceptor)
        sites = []
        for i in range(self.count("contract_acceptor.sites", "How many sites perform the work", 1)):
            key = f"contract_acceptor.sites[{i}]"
            self.asker.section(f"Site {i + 1}")
            site: dict[str, Any] = {
                "name": self.field(f"{key}.name", "Site name", m.Site, "name"),
                "address": self.field(f"{key}.address", "Site address", m.Site, "address"),
                "country": self.field(f"{key}.country", "Country", m.Site, "country"),
            }
            prior_numbers = self._prior(f"{key}.registration_numbers")
            numbers: dict[str, str] = {k: v for k, v in (prior_numbers if isinstance(prior_numbers, dict) else {})
                                       .items() if k not in ("FEI", "EU MIA")}
            for scheme, label in (("FEI", "FDA FEI number"), ("EU MIA", "EU manufacturing/importation "
                                                                         "authorisation number")):
                value = self.asker.ask(f"{key}.registration_numbers.{scheme}", f"{label} (blank if none)",
                                       _show(self._prior(f"{key}.registration_numbers.{scheme}")), _optional_text)
                if value:
                    numbers[scheme] = value
            site["registration_numbers"] = numbers
            site["activities"] = self.items(f"{key}.activities", "Services performed at this site",
                                            _options(m.Service))
            sites.append(site)
        return {"name": party["name"], "kind": kind, "address": party["address"], "country": party["country"],
                "quality_contact": party["quality_contact"], "sites": sites}

    def _products(self, sponsor: dict[str, Any]) -> list[dict[str, Any]]:
        products = []
        for i in range(self.count("products", "How many products does the agreement cover", 1)):
            key = f"products[{i}]"
            self.asker.section(f"Product {i + 1}")
            product: dict[str, Any] = {
                "name": self.field(f"{key}.name", "Product name", m.Product, "name"),
                "type": self.field(f"{key}.type", f"Type [{', '.join(_options(m.ArrangedType))}]", m.Product, "type"),
            }
            if Applies.dosage_form(product):
                product["dosage_form"] = self.field(f"{key}.dosage_form", "Dosage form (e.g. film-coated tablet)",
                                                    m.Product, "dosage_form")
            product["presentations"] = self.asker.ask(
                f"{key}.presentations", "Presentations (packs and containers; separate with ';', blank if none)",
                _show_list(self._prior(f"{key}.presentations")), _text_list)
            product["markets"] = self.items(f"{key}.markets", "Markets (EU = EU/EEA)", _options(m.Market))
            numbers = self.asker.ask(f"{key}.application_numbers", "Application numbers (NDA/BLA/MA; separate "
                                     "with ';', blank if none)",
                                     _show_list(self._prior(f"{key}.application_numbers")), _text_list)
            product["application_numbers"] = numbers
            if Applies.application_type(product):
                product["application_type"] = self.field(
                    f"{key}.application_type", "US application [NDA, ANDA, OTC_monograph] (decides Field Alert "
                    "Reports; blank if not yet known)", m.Product, "application_type")
            if Applies.trial(product):
                product["trial"] = self._trial(key, product, sponsor)
            products.append({k: v for k, v in product.items() if v is not None})
        return products

    def _trial(self, key: str, product: dict[str, Any], sponsor: dict[str, Any]) -> dict[str, Any]:
        self.asker.section("Clinical trial", "the trial this investigational product is supplied for")
        trial: dict[str, Any] = {
            "sponsor": self.field(f"{key}.trial.sponsor", "Trial sponsor", m.Trial, "sponsor", sponsor["name"]),
            "sponsor_country": self.field(f"{key}.trial.sponsor_country", "Country where the trial sponsor is "
                                          "established", m.Trial, "sponsor_country", sponsor["country"]),
        }
        if Applies.eu_legal_representative(product):
            trial["eu_legal_representative"] = self.field(
                f"{key}.trial.eu_legal_representative", "EU legal representative of a sponsor established outside "
                "the EU/EEA (name and address; blank if none needed)", m.Trial, "eu_legal_representative")
        trial["countries"] = self.asker.ask(f"{key}.trial.countries", "Trial countries (separate with ';')",
                                           _show_list(self._prior(f"{key}.trial.countries")), _text_list)
        trial["numbers"] = self.asker.ask(f"{key}.trial.numbers", "Trial numbers: EU CT numbers, IND numbers "
                                         "(separate with ';')", _show_list(self._prior(f"{key}.trial.numbers")),
                                         _text_list)
        return {k: v for k, v in trial.items() if v is not None}

    def _release(self, products: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        self.asker.section("Batch release")
        default = "qp_certification" if any(_qp_needed(p) for p in products) else "cmo_release_with_sponsor_secondary"
        model = self.field("release_model", f"Release model [{', '.join(_options(m.ReleaseModel))}]", m.Answers,
                           "release_model", default)
        release: dict[str, Any] = {}
        if Applies.release_parties(model):
            release.update(self._release_parties("release", m.Release))
        release["documentation_within_business_days"] = self.field(
            "release.documentation_within_business_days", "Business days to deliver the batch documentation package "
            "after the acceptor's disposition", m.Release, "documentation_within_business_days")
        return model, release

    def _release_parties(self, key: str, model: type[BaseModel]) -> dict[str, Any]:
        certifier = self.field(f"{key}.certifier", "Whose Qualified Person certifies each batch [sponsor, "
                               "contract_acceptor]", model, "certifier", "sponsor")
        stated = certifier != "sponsor" or self._prior(f"{key}.certifier") is not None
        found: dict[str, Any] = {"certifier": certifier} if stated else {}  # sponsor is the default
        if certifier == "contract_acceptor":
            for name, prompt in (("batch_release_site", "Batch-release site (name and address)"),
                                 ("authorisation_number", "Its manufacturing authorisation number"),
                                 ("qualified_person", "Certifying Qualified Person (name)")):
                found[name] = self.field(f"{key}.{name}", prompt, model, name)
        return {k: v for k, v in found.items() if v is not None}

    def _product_releases(self, products: list[dict[str, Any]], default: str) -> None:
        """Ask each product's own release model where products go to different markets."""
        self.asker.section("Release per product", "products with different markets may be released differently")
        for i, product in enumerate(products):
            key = f"products[{i}].release"
            suggested = "qp_certification" if _qp_needed(product) else default
            model = self.field(f"{key}.model", f"Release model for {product['name']} "
                               f"[{', '.join(_options(m.ReleaseModel))}]", m.ReleaseArrangement, "model", suggested)
            if model == default:
                continue
            release: dict[str, Any] = {"model": model}
            if Applies.release_parties(model):
                release.update(self._release_parties(key, m.ReleaseArrangement))
            product["release"] = release

    def _simple(self, key: str, title: str, model: type[BaseModel], prompts: dict[str, str]) -> dict[str, Any]:
        self.asker.section(title)
        return {name: self.field(f"{key}.{name}", prompt, model, name) for name, prompt in prompts.items()}

    def _change_control(self) -> dict[str, Any]:
        section = self._simple("change_control", "Change control", m.ChangeControl, {
            "sponsor_prior_approval_for_filed_changes": "Do changes affecting filed information need the "
                                                        "Sponsor's prior approval? (yes/no)",
            "major_change_notice_days": "Days of notice before a major change (typically 90-180)",
            "minor_change_notice_days": "Days of notice before a minor change",
            "like_for_like_notice": "When are like-for-like equipment changes notified "
                                    f"[{', '.join(_options(m.LikeForLikeNotice))}]",
        })
        section["filing_assessment_owner"] = self.field(
            "change_control.filing_assessment_owner", "Who assesses the regulatory filing impact of a change "
            "[sponsor, contract_acceptor]", m.ChangeControl, "filing_assessment_owner")
        return section

    def _subcontracting(self) -> dict[str, Any]:
        self.asker.section("Subcontracting")
        allowed = self.field("subcontracting.allowed", "May the contract acceptor subcontract any of the work? "
                             "(yes/no)", m.Subcontracting, "allowed")
        if not allowed:
            return {"allowed": False}
        section: dict[str, Any] = {
            "allowed": True,
            "prior_written_consent": self.field("subcontracting.prior_written_consent", "Only with the Sponsor's "
                                                "prior written consent? (yes/no)", m.Subcontracting,
                                                "prior_written_consent"),
            "flow_down": self.field("subcontracting.flow_down", "Must quality obligations flow down to "
                                    "subcontractors? (yes/no)", m.Subcontracting, "flow_down"),
        }
        subs = []
        for i in range(self.count("subcontracting.approved_subcontractors", "How many approved subcontractors", 1)):
            key = f"subcontracting.approved_subcontractors[{i}]"
            self.asker.section(f"Approved subcontractor {i + 1}")
            sub: dict[str, Any] = {
                "name": self.field(f"{key}.name", "Name", m.Subcontractor, "name"),
                "address": self.field(f"{key}.address", "Address of the site doing the work", m.Subcontractor,
                                      "address"),
                "country": self.field(f"{key}.country", "Country of that site", m.Subcontractor, "country"),
                "activities": self.items(f"{key}.activities", "Services subcontracted", _options(m.Service)),
            }
            if Applies.subcontractor_tests(sub["activities"]):
                sub["tests"] = self.asker.ask(f"{key}.tests", "Named tests it performs (e.g. sterility (Ph. Eur. "
                                              "2.6.1); separate with ';')", _show_list(self._prior(f"{key}.tests")),
                                              _text_list)
            subs.append({k: v for k, v in sub.items() if v is not None})
        section["approved_subcontractors"] = subs
        return section

    def _tech_transfer(self) -> dict[str, Any]:
        return self._simple("tech_transfer", "Development and technology transfer", m.TechTransfer, {
            "site_or_scale_change": "Is a new site, line or scale in scope? (yes/no)",
            "comparability_required": "Must product after transfer be shown comparable before release? (yes/no)",
            "update_filings": "Will regulatory filings be updated to add or remove sites? (yes/no)",
        })

    def _inspections(self) -> dict[str, Any]:
        return self._simple("inspections", "Regulatory inspections", m.Inspections, {
            "notify_within_hours": "Hours to tell the Sponsor of an inspection (typically 24 or less)",
            "share_reports_within_business_days": "Business days to share a Form 483 or inspection report "
                                                  "(typically 2-5)",
            "notify_warning_letters": "Tell the Sponsor of Warning Letters and equivalents? (yes/no)",
            "sponsor_may_attend": "May the Sponsor be present at inspections concerning its product? (yes/no)",
            "sponsor_reviews_responses": "Does the Sponsor review responses concerning its product? (yes/no)",
        })

    def _audits(self) -> dict[str, Any]:
        self.asker.section("Sponsor audits")
        status = self.field("audits.acceptor_status", "Is the contract acceptor new or established "
                            "[new, established]", m.Audits, "acceptor_status")
        tier = self.field("audits.risk_tier", "Risk tier (1 = lower risk, 2 = higher risk: sterile, biologic, "
                          "new technology, compliance concerns)", m.Audits, "risk_tier")
        frequency = 24 if status == "established" and tier == 1 else 12
        return {
            "acceptor_status": status,
            "risk_tier": tier,
            "routine_frequency_months": self.field("audits.routine_frequency_months", "Routine audit at least every "
                                                   "how many months", m.Audits, "routine_frequency_months", frequency),
            "for_cause": self.field("audits.for_cause", "May the Sponsor audit for cause at short notice? (yes/no)",
                                    m.Audits, "for_cause"),
            "notice_business_days": self.field("audits.notice_business_days", "Business days' notice of a routine "
                                               "audit", m.Audits, "notice_business_days"),
        }

    def _records(self, markets: set[str]) -> dict[str, Any]:
        self.asker.section("Records", "legal minimum: US 1 year after expiry; EU 1 year after expiry or 5 years "
                           "after certification, whichever is longer")
        section = {
            "retention_years_after_expiry": self.field("records.retention_years_after_expiry", "Keep batch records "
                                                       "how many years after expiry", m.Records,
                                                       "retention_years_after_expiry"),
        }
        if "EU" in markets:
            section["retention_years_after_certification"] = self.field(
                "records.retention_years_after_certification", "Keep them at least how many years after QP "
                "certification", m.Records, "retention_years_after_certification")
        section["pre_destruction_notice_days"] = self.field("records.pre_destruction_notice_days", "Days of notice "
                                                            "to the Sponsor before records are destroyed",
                                                            m.Records, "pre_destruction_notice_days")
        return section

    def _signatories(self, data: dict[str, Any], markets: set[str]) -> list[dict[str, Any]]:
        qp = data["release_model"] == "qp_certification" and any(_qp_needed(p) for p in data["products"])
        found = self.start.get("signatories")
        prior_all: list[Any] = found if isinstance(found, list) else []
        signatories: list[dict[str, Any]] = []
        for party, label in (("sponsor", "Sponsor"), ("contract_acceptor", "Contract acceptor")):
            prior = [s for s in prior_all if isinstance(s, dict) and s.get("party") == party]
            suggested = len(prior) or (2 if party == "sponsor" and qp else 1)
            note = "the Head of Quality, and for EU markets the Qualified Person" if party == "sponsor" else ""
            self.asker.section(f"{label} signatories", note)
            for j in range(self.count(f"signatories.{party}", f"How many people sign for the {label.lower()}",
                                      suggested)):
                before = prior[j] if j < len(prior) else {}
                contact = data[party]["quality_contact"] if j == 0 else {}
                meaning = "responsibility" if party == "sponsor" and qp and j == 1 else "approval"
                key = f"signatories.{party}[{j}]"
                self.asker.section(f"{label} signatory {j + 1}")
                signatories.append({
                    "party": party,
                    "name": self.field(f"{key}.name", "Name", m.Signatory, "name",
                                       before.get("name") or contact.get("name")),
                    "title": self.field(f"{key}.title", "Job title", m.Signatory, "title",
                                        before.get("title") or contact.get("title")),
                    "email": self.field(f"{key}.email", "E-mail", m.Signatory, "email",
                                        before.get("email") or contact.get("email")),
                    "meaning": self.field(f"{key}.meaning", "Meaning of the signature [authorship, review, "
                                          "approval, responsibility]", m.Signatory, "meaning",
                                          before.get("meaning") or meaning),
                })
        return signatories


SECTION_NOTES = {
    "agreement": "The agreement itself: identity, version and life cycle.",
    "sponsor": "The contract giver: marketing authorisation / NDA / BLA holder.",
    "contract_acceptor": "The CMO, CDMO or contract laboratory, and the sites where the work is done.",
    "affiliates": "Affiliates of either party that join the agreement or sign for one.",
    "products": "Products covered, with their markets, application and release arrangement.",
    "services": "What the contract acceptor does for the Sponsor.",
    "release_model": "Who releases batches for sale.",
    "release": "Who certifies, where, and the batch documentation clock.",
    "change_control": "Notification and approval of changes at the contract acceptor.",
    "subcontracting": "Whether work may be passed on, and to whom.",
    "tech_transfer": "Technology transfer, new sites and scale changes.",
    "inspections": "Regulatory inspections of the sites.",
    "audits": "The Sponsor's audits of the contract acceptor.",
    "deviations": "Deviation, OOS and investigation clocks.",
    "complaints": "Complaint handling between the parties.",
    "records": "Retention of GMP records.",
    "term": "Duration, termination and exit.",
    "signatories": "Who signs, and the meaning of each signature (21 CFR 11.50).",
}


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter: the same text, 40 ms -> 3 ms for the demo


def render_answers(data: dict[str, Any]) -> str:
    """The answers as commented YAML, one commented block per section."""
    lines = ["# qa-builder answers file, written by `qa-builder questionnaire`.",
             "# Check it with `qa-builder check`, build it with `qa-builder build`. RACI overrides go under",
             "# `responsibilities:` (see the README).", ""]
    for key, value in data.items():
        note = SECTION_NOTES.get(key)
        if note:
            lines.append(f"# {note}")
        lines.append(yaml.dump({key: value}, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=100).rstrip())
        lines.append("")
    return "\n".join(lines)


AUTHORITATIVE = {"registration_numbers"}


def _merge(prior: Any, asked: Any, name: str = "") -> Any:
    """Asked values win; fields the interview did not ask keep their prior value (dicts, and lists of dicts)."""
    if name in AUTHORITATIVE:
        return asked
    if isinstance(prior, dict) and isinstance(asked, dict):
        return {**prior, **{k: _merge(prior.get(k), v, k) for k, v in asked.items()}}
    if isinstance(prior, list) and isinstance(asked, list) and all(isinstance(v, dict) for v in asked):
        return [_merge(prior[i] if i < len(prior) else None, v) for i, v in enumerate(asked)]
    return asked


def _qp_needed(product: dict[str, Any]) -> bool:
    """Whether a market of the product needs QP-type certification of its type (the jurisdiction rules say)."""
    from qa_builder.library.jurisdictions import bundled_jurisdictions

    kind = "biological_drug_product" if product["type"] == "biologic" else product["type"]
    return any(rule.qp and kind in rule.product_types and set(product["markets"]) & set(rule.markets)
               for rule in bundled_jurisdictions().certifications)


def _options(literal: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in get_args(literal))


def _outside_eea(country: str) -> bool:
    """Whether `country` (a name or ISO code) is known and not an EU/EEA member state (jurisdictions.yaml)."""
    return bool(country.strip()) and country.strip().casefold() not in _eea()


@functools.cache
def _eea() -> frozenset[str]:
    return frozenset(c.casefold() for c in bundled_jurisdictions().eea_countries)


def _is_bool(annotation: Any) -> bool:
    return annotation is bool


def _show(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _show_list(value: Any) -> str | None:
    return "; ".join(str(v) for v in value) if isinstance(value, list) and value else None


def _optional_text(raw: str) -> str | None:
    text: str | None = _fits(raw.strip(), TEXT_LIMIT, LIST_LIMIT) or None
    return text


def _text_list(raw: str) -> list[str]:
    if len(raw) > TEXT_LIMIT * LIST_LIMIT:
        raise ValueError(_too_long(len(raw), TEXT_LIMIT * LIST_LIMIT))
    values: list[str] = _fits([v.strip() for v in raw.split(";") if v.strip()], TEXT_LIMIT, LIST_LIMIT)
    return values


def _too_long(length: int, limit: int) -> str:
    return f"is {length:,} characters long; at most {limit:,} fit here; shorten it"


def _fits(value: Any, text_limit: int, list_limit: int) -> Any:
    """`value` (a parsed answer) when the Answers model would take it: each text within `text_limit` characters and
    free of what `text_problem` refuses (controls, bidirectional and invisible characters), each date plausible,
    each list within `list_limit` entries. So an answer the model, and `qa-builder check`, would refuse is refused
    as it is typed, not saved.

    Raises:
        ValueError: the first problem, as a phrase ("contains the bidirectional control U+202E at character 4...").
    """
    if isinstance(value, str):
        if len(value) > text_limit:
            raise ValueError(_too_long(len(value), text_limit))
        if problem := text_problem(value):
            raise ValueError(problem)
    elif isinstance(value, dt.date):
        if problem := date_problem(value):
            raise ValueError(problem)
    elif isinstance(value, (list, tuple, dict)):
        if len(value) > list_limit:
            raise ValueError(f"has {len(value):,} entries; at most {list_limit:,} fit an agreement")
        for item in (value.values() if isinstance(value, dict) else value):
            _fits(item, text_limit, list_limit)
    return value


def _plain(exc: ValidationError) -> str:
    first = exc.errors()[0]
    message = str(first["msg"]).replace("Input should be", "should be").replace("Value error, ", "")
    return message


@functools.cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    """The validator of one model field, built once per process (building one costs about 0.15 ms, and the
    web app replays the whole interview, some 80 questions, on every request)."""
    info = model.model_fields[name]
    annotated: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return TypeAdapter(annotated)
