"""What each incremental update of a signed PDF changed, classified, and whether the permissions in force allow it.

Every revision after the first signature is compared with the one before it: the objects the update adds or
rewrites (its cross-reference section) are sorted into the classes ETSI/DSS reports (validation data, form
filling, annotations, signature added, other), each naming its objects, pages and form field. Whether a change is
allowed is decided from the permissions actually in force when it was made: the DocMDP level of a certification
signature (/P 1: validation data only, 2: also form filling and signing, 3: also annotations), the /Lock /P of
signed fields (ISO 32000-2 12.8.2.4), and the fields locked by FieldMDP (/All, /Include, /Exclude) of every
signature made before. Without any of these, form filling, signatures and annotations are allowed; changes of
the class "other" (page content, resources, page tree, rewritten signatures, ...) never are.

Which objects use a rewritten object comes from one reference index per file (`refindex`), not one graph walk
per revision; the structure (catalog, pages, annotations, form fields, DSS) is read per revision with pyHanko's
historical resolvers, which share one object cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader

from qa_builder.verify.refindex import TRAILER, ReferenceIndex
from qa_builder.verify.report import ModificationClass

ChangeClass = Literal["validation_data", "form_filling", "annotations", "signature_added", "other"]
CLASS_LEVEL: dict[str, int] = {"validation_data": 1, "signature_added": 2, "form_filling": 2, "annotations": 3,
                               "other": 4}
_CLASS_ORDER: tuple[ChangeClass, ...] = ("validation_data", "form_filling", "annotations", "signature_added", "other")
CLASS_WORDS = {"validation_data": "validation data", "form_filling": "form filling", "annotations": "annotations",
               "signature_added": "signature added", "other": "other changes"}
_MAX_NODES = 100_000  # bound on structure walks (pages, fields, annotations, appearance resources) per revision
_FILL_KEYS = {"/V", "/AS", "/AP", "/MK", "/M", "/I", "/DA", "/RV"}
_SIGN_KEYS = {"/V", "/AS", "/AP", "/MK", "/F"}
_FORM_KEYS = {"/DR", "/DA", "/NeedAppearances", "/SigFlags"}
_CATALOG_VALIDATION_KEYS = {"/DSS", "/Extensions", "/Version", "/Metadata"}
_READ_ONLY = 1


@dataclass(frozen=True)
class Change:
    """One change an incremental update made."""

    revision: int  # 0-based revision that made it
    kind: ChangeClass
    what: str  # e.g. "page 3: /Contents replaced (object 12)"
    objects: tuple[int, ...] = ()
    pages: tuple[int, ...] = ()
    field: str | None = None  # the form field filled or signed, for FieldMDP locks
    violation: str | None = None  # why the permissions in force at the time forbid it (None: allowed)
    value_changed: bool = True  # for form filling: False when only the field's appearance was redone


@dataclass(frozen=True)
class Permissions:
    """The change permissions one signature declares."""

    signed_revision: int
    docmdp: int | None  # 1, 2 or 3 (certification /P or the field's /Lock /P), None: none declared
    locks_all: bool = False
    locked: frozenset[str] = frozenset()  # /Include names (or, with locks_all, the /Exclude names)
    name: str = ""

    def locks(self, field_name: str) -> bool:
        short = field_name.rsplit(".", 1)[-1]
        listed = field_name in self.locked or short in self.locked
        return not listed if self.locks_all else listed


def analyse(reader: PdfFileReader, data: bytes, first_signed_revision: int,
            permissions: list[Permissions]) -> list[Change]:
    """The changes of every revision after `first_signed_revision`, each judged against `permissions`.

    Args:
        reader: the file's reader.
        data: the file's bytes (scanned once for the reference index).
        first_signed_revision: 0-based revision covered by the oldest signature.
        permissions: what each signature declares (from `declared_permissions`).

    Returns:
        The changes in revision order; `violation` is set on those the permissions in force forbid.
    """
    last = reader.xrefs.total_revisions - 1
    if first_signed_revision >= last:
        return []
    index = ReferenceIndex(reader, data)
    cache: dict[tuple[int, int], object] = {}
    resolvers: dict[int, HistoricalResolver] = {}
    structures = {first_signed_revision: _Structure.read(_View(reader, index, first_signed_revision, cache, resolvers))}
    found: list[Change] = []
    for revision in range(first_signed_revision + 1, last + 1):
        structures[revision] = _Structure.read(_View(reader, index, revision, cache, resolvers))
        update = _Update(reader, index, revision, structures[revision - 1], structures[revision])
        found += [_judge(change, permissions) for change in update.changes()]
        structures.pop(revision - 1)
    return found


def declared_permissions(signed_revision: int, sig_object: generic.DictionaryObject,
                         sig_field: generic.DictionaryObject, name: str) -> Permissions:
    """DocMDP and FieldMDP permissions declared by one signature (its /Reference transforms and its field's /Lock)."""
    docmdp: int | None = None
    lock: generic.DictionaryObject | None = None
    references = _get(sig_object, "/Reference")
    for reference in references if isinstance(references, generic.ArrayObject) else []:
        reference = _deref(reference)
        if not isinstance(reference, generic.DictionaryObject):
            continue
        params = _deref(reference.get("/TransformParams"))
        method = reference.get("/TransformMethod")
        if method == "/DocMDP":
            docmdp = _permission(params.get("/P", 2) if isinstance(params, generic.DictionaryObject) else 2)
        elif method == "/FieldMDP" and isinstance(params, generic.DictionaryObject):
            lock = params
    field_lock = _deref(sig_field.get("/Lock"))
    if isinstance(field_lock, generic.DictionaryObject):
        lock = lock or field_lock
        if "/P" in field_lock:
            level = _permission(field_lock["/P"])
            docmdp = level if docmdp is None else min(docmdp, level)
    if lock is None:
        return Permissions(signed_revision, docmdp, name=name)
    action = lock.get("/Action")
    listed = _deref(lock.get("/Fields"))
    names = frozenset(str(n) for n in listed) if isinstance(listed, generic.ArrayObject) else frozenset()
    if action == "/All":
        return Permissions(signed_revision, docmdp, locks_all=True, name=name)
    if action == "/Exclude":
        return Permissions(signed_revision, docmdp, locks_all=True, locked=names, name=name)
    return Permissions(signed_revision, docmdp, locked=names, name=name)


def _permission(value: object) -> int:
    try:
        level = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1
    return level if level in (1, 2, 3) else 1


def _judge(change: Change, permissions: list[Permissions]) -> Change:
    """The change with `violation` set when the permissions in force at its revision forbid it."""
    if change.kind == "other":
        return _with(change, "no signature permits it")
    in_force = [p for p in permissions if p.signed_revision < change.revision]
    levels = [p.docmdp for p in in_force if p.docmdp is not None]
    allowed = min(levels) if levels else 3
    if CLASS_LEVEL[change.kind] > allowed:
        who = ", ".join(p.name for p in in_force if p.docmdp is not None and p.docmdp < CLASS_LEVEL[change.kind])
        return _with(change, f"the permissions in force ({who}) allow only {_LEVEL_WORDS[allowed]}")
    if change.field is not None and change.kind in ("form_filling", "signature_added"):
        lockers = [p.name for p in in_force if p.locks(change.field)]
        if lockers:
            return _with(change, f"field '{change.field}' is locked by {', '.join(lockers)}")
    return change


_LEVEL_WORDS = {1: "validation data and document timestamps", 2: "form filling and signing",
                3: "form filling, signing and annotations"}


def _with(change: Change, violation: str) -> Change:
    return dataclasses.replace(change, violation=violation)


class _View:
    """The objects of one revision. Each stored object version is parsed once per file and shared by every
    revision it is in force in; references are always followed at this revision, never at the version's own."""

    def __init__(self, reader: PdfFileReader, index: ReferenceIndex, revision: int,
                 cache: dict[tuple[int, int], object], resolvers: dict[int, HistoricalResolver]) -> None:
        self.reader = reader
        self.index = index
        self.revision = revision
        self._resolvers = resolvers
        if revision not in resolvers:
            resolvers[revision] = reader.get_historical_resolver(revision)
        self.resolver = resolvers[revision]
        self._cache = cache

    def at(self, number: int, generation: int = 0) -> object:
        version = self.index.version_at(number, self.revision)
        if version is None:
            return None
        key = (number, version)
        if key not in self._cache:
            try:
                resolver = self._resolvers.get(version)
                if resolver is None:
                    resolver = self._resolvers[version] = self.reader.get_historical_resolver(version)
                self._cache[key] = resolver(generic.Reference(number, generation))
            except MemoryError:
                raise
            except Exception:  # missing or unreadable: reads as null
                self._cache[key] = None
        return self._cache[key]

    def deref(self, obj: object) -> object:
        return self.at(obj.idnum, obj.generation) if isinstance(obj, generic.IndirectObject) else obj

    def latest(self, obj: object) -> object:
        """`obj` as the file's newest revision has it: signature dictionaries (large /Contents) are parsed once,
        shared with the validation; one rewritten later is reported on its own."""
        try:
            if isinstance(obj, generic.IndirectObject):
                return self.reader.get_object(obj.reference)  # type: ignore[no-untyped-call]
            return obj
        except MemoryError:
            raise
        except Exception:  # missing: reads as null
            return None

    def get(self, obj: generic.DictionaryObject, key: str) -> object:
        return self.deref(obj.raw_get(key)) if key in obj else None

    def closure(self, roots: list[object]) -> set[int]:
        """Object numbers reachable from `roots` (bounded), not following links back to pages and fields."""
        found: set[int] = set()
        stack = list(roots)
        steps = 0
        while stack and steps < _MAX_NODES:
            steps += 1
            current = stack.pop()
            if isinstance(current, generic.IndirectObject):
                if current.idnum in found:
                    continue
                found.add(current.idnum)
                current = self.deref(current)
            if isinstance(current, generic.DictionaryObject):
                stack.extend(current.raw_get(k) for k in current if k not in _NOT_FOLLOWED)
            elif isinstance(current, generic.ArrayObject):
                stack.extend(_items(current))
        return found


# -- the structure of one revision ---------------------------------------------------------------------------------

@dataclass
class _Structure:
    """Catalog, pages, annotations, form fields and DSS of one revision, by object number."""

    view: _View
    root: int | None = None
    catalog: generic.DictionaryObject = field(default_factory=generic.DictionaryObject)
    form: generic.DictionaryObject = field(default_factory=generic.DictionaryObject)
    form_number: int | None = None
    fields_number: int | None = None
    pages: dict[int, int] = field(default_factory=dict)  # page object -> page number (1-based)
    page_nodes: set[int] = field(default_factory=set)  # intermediate /Pages nodes and /Kids arrays
    annots: dict[int, int] = field(default_factory=dict)  # annotation object -> page number
    annots_arrays: dict[int, int] = field(default_factory=dict)  # indirect /Annots array -> page number
    fields: dict[int, str] = field(default_factory=dict)  # field object (or widget) -> full field name
    terminal: dict[int, str] = field(default_factory=dict)  # fields with a value (no /T kids) -> full name
    field_arrays: set[int] = field(default_factory=set)  # indirect /Kids arrays of fields
    sig_values: dict[int, str] = field(default_factory=dict)  # signature dictionary -> field name
    dss: set[int] = field(default_factory=set)
    metadata: int | None = None
    info: int | None = None

    @classmethod
    def read(cls, view: _View) -> _Structure:
        structure = cls(view)
        resolver = view.resolver
        try:
            info = resolver.trailer_view.raw_get("/Info") if "/Info" in resolver.trailer_view else None
            structure.info = info.idnum if isinstance(info, generic.IndirectObject) else None
            root_ref = resolver.trailer_view.raw_get("/Root")
            structure.root = root_ref.idnum if isinstance(root_ref, generic.IndirectObject) else None
            catalog = view.deref(root_ref)
            if not isinstance(catalog, generic.DictionaryObject):
                return structure
            structure.catalog = catalog
            structure._read_pages(catalog.raw_get("/Pages") if "/Pages" in catalog else None)
            structure._read_form(catalog)
            dss = catalog.raw_get("/DSS") if "/DSS" in catalog else None
            structure.dss = view.closure([dss]) if dss is not None else set()
            metadata = catalog.raw_get("/Metadata") if "/Metadata" in catalog else None
            structure.metadata = metadata.idnum if isinstance(metadata, generic.IndirectObject) else None
        except MemoryError:
            raise
        except Exception:  # a damaged revision: whatever was read stands; the rest shows up as "other" changes
            return structure
        return structure

    def _read_pages(self, node: object) -> None:
        stack: list[object] = [node]
        seen: set[int] = set()
        while stack and len(seen) < _MAX_NODES:
            current = stack.pop()
            number = current.idnum if isinstance(current, generic.IndirectObject) else None
            if number is not None:
                if number in seen:
                    continue
                seen.add(number)
            obj = self.view.deref(current)
            if not isinstance(obj, generic.DictionaryObject):
                continue
            kids = obj.raw_get("/Kids") if "/Kids" in obj else None
            if kids is not None and obj.get("/Type") != "/Page":
                if number is not None:
                    self.page_nodes.add(number)
                if isinstance(kids, generic.IndirectObject):
                    self.page_nodes.add(kids.idnum)
                stack.extend(reversed(list(_items(self.view.deref(kids)))))
                continue
            page_number = len(self.pages) + 1
            if number is not None:
                self.pages[number] = page_number
            annots = obj.raw_get("/Annots") if "/Annots" in obj else None
            if isinstance(annots, generic.IndirectObject):
                self.annots_arrays[annots.idnum] = page_number
            for annot in _items(self.view.deref(annots)):
                if isinstance(annot, generic.IndirectObject):
                    self.annots[annot.idnum] = page_number

    def _read_form(self, catalog: generic.DictionaryObject) -> None:
        form_ref = catalog.raw_get("/AcroForm") if "/AcroForm" in catalog else None
        self.form_number = form_ref.idnum if isinstance(form_ref, generic.IndirectObject) else None
        form = self.view.deref(form_ref)
        if not isinstance(form, generic.DictionaryObject):
            return
        self.form = form
        fields_ref = form.raw_get("/Fields") if "/Fields" in form else None
        self.fields_number = fields_ref.idnum if isinstance(fields_ref, generic.IndirectObject) else None
        stack: list[tuple[object, str]] = [(f, "") for f in reversed(list(_items(self.view.deref(fields_ref))))]
        while stack and len(self.fields) < _MAX_NODES:
            current, parent = stack.pop()
            if not isinstance(current, generic.IndirectObject) or current.idnum in self.fields:
                continue
            obj = self.view.deref(current)
            if not isinstance(obj, generic.DictionaryObject):
                continue
            partial = obj.get("/T")
            name = f"{parent}.{partial}" if parent and partial is not None else str(partial or parent)
            self.fields[current.idnum] = name
            kids = obj.raw_get("/Kids") if "/Kids" in obj else None
            if isinstance(kids, generic.IndirectObject):
                self.field_arrays.add(kids.idnum)
            children = list(_items(self.view.deref(kids)))
            named_children = [k for k in children if isinstance(self.view.deref(k), generic.DictionaryObject)
                              and "/T" in self.view.deref(k)]  # type: ignore[operator]
            if not named_children:
                self.terminal[current.idnum] = name
            stack.extend((kid, name) for kid in reversed(children))
            value = obj.raw_get("/V") if "/V" in obj else None
            if isinstance(value, generic.IndirectObject) and obj.get("/FT") == "/Sig":
                self.sig_values[value.idnum] = name

    def page_of(self, number: int) -> int | None:
        return self.pages.get(number) or self.annots.get(number) or self.annots_arrays.get(number)


# -- comparing two revisions -----------------------------------------------------------------------------------------

class _Update:
    """The changes revision `revision` makes to the one before it."""

    def __init__(self, reader: PdfFileReader, index: ReferenceIndex, revision: int, old: _Structure,
                 new: _Structure) -> None:
        self.index = index
        self.revision = revision
        self.old = old
        self.new = new
        self.changed = {ref.idnum for ref in reader.xrefs.explicit_refs_in_revision(revision)}
        self.freed = {ref.idnum for ref in reader.xrefs.refs_freed_in_revision(revision)}
        self.existed = {n for n in self.changed if index.version_at(n, revision - 1) is not None}
        self.explained: set[int] = set()
        self.allowed_regions: list[tuple[ChangeClass, set[int], str | None, tuple[int, ...]]] = []

    def changes(self) -> list[Change]:
        found = [*self._catalog(), *self._form(), *self._fields(), *self._pages(), *self._annotations(),
                 *self._signature_values(), *self._validation_data()]
        found += self._appearances()
        found += self._remaining()
        return found

    # catalog and form dictionary

    def _catalog(self) -> Iterator[Change]:
        old, new = self.old.catalog, self.new.catalog
        if self.new.root is not None:
            self.explained.add(self.new.root)
        if self.old.root != self.new.root:
            yield self._other(f"the document catalog was replaced (object {self.new.root})", self.new.root)
            return
        if self.new.root not in self.changed:
            return
        for key in _changed_keys(old, new):
            if key in _CATALOG_VALIDATION_KEYS:
                yield Change(self.revision, "validation_data", f"document catalog: {key} updated",
                             (self.new.root or 0,))
            elif key == "/AcroForm":
                continue  # judged with the form
            elif key == "/Names" and self._names_only_appearances():
                yield self._region("annotations", self.new.root or 0, None, "document catalog: named "
                                   "annotation appearances (/Names /AP) updated", None, (),
                                   roots=[self.new.view.get(new, "/Names")])
            else:
                yield self._other(f"document catalog: {key} changed", self.new.root)

    def _names_only_appearances(self) -> bool:
        """Whether the catalog's name dictionary changed only in its /AP tree (appearances of stamp annotations)."""
        old = self.old.view.get(self.old.catalog, "/Names")
        new = self.new.view.get(self.new.catalog, "/Names")
        if not isinstance(new, generic.DictionaryObject):
            return False
        return _changed_keys(old, new) <= {"/AP"} if isinstance(old, generic.DictionaryObject) else set(new) <= {"/AP"}

    def _form(self) -> Iterator[Change]:
        old, new = self.old.form, self.new.form
        for number in (self.new.form_number, self.new.fields_number):
            if number is not None:
                self.explained.add(number)
        resources = new.raw_get("/DR") if "/DR" in new else None
        if self.new.view.closure([resources]) & self.changed:
            yield self._region("form_filling", self.new.form_number or 0, None, "form dictionary: default "
                               "resources (/DR) updated", None, (), roots=[resources])
        touched = {self.new.form_number, self.new.fields_number, self.new.root} & self.changed
        if not touched:
            return
        for key in _changed_keys(old, new):
            if key == "/DR":
                continue
            elif key in _FORM_KEYS:
                kind: ChangeClass = "validation_data" if key == "/SigFlags" else "form_filling"
                yield Change(self.revision, kind, f"form dictionary: {key} updated", (self.new.form_number or 0,))
            elif key != "/Fields":
                yield self._other(f"form dictionary: {key} changed", self.new.form_number)
        old_top = {f.idnum for f in _items(self.old.view.get(old, "/Fields"))
                   if isinstance(f, generic.IndirectObject)}
        new_top = {f.idnum for f in _items(self.new.view.get(new, "/Fields"))
                   if isinstance(f, generic.IndirectObject)}
        for number in sorted(old_top - new_top):
            name = self.old.fields.get(number, f"object {number}")
            yield self._other(f"form field '{name}' was removed from the form", number)

    # form fields and their widgets

    def _fields(self) -> Iterator[Change]:
        for number in sorted(set(self.new.fields) | set(self.old.fields)):
            name = self.new.fields.get(number) or self.old.fields.get(number, "")
            if number not in self.new.fields:
                if number not in self.old.fields or self.index.version_at(number, self.revision) is not None:
                    continue  # still an object, only no longer in the form: reported with the form
                yield self._other(f"form field '{name}' was deleted", number)
                continue
            if number in self.new.field_arrays:
                continue
            if number not in self.changed and number in self.old.fields:
                continue
            self.explained.add(number)
            new_obj = self.new.view.at(number)
            existed = self.index.version_at(number, self.revision - 1) is not None
            old_obj = self.old.view.at(number) if existed else None
            yield from self._field(number, name, old_obj, new_obj)
        for number in self.new.field_arrays & self.changed:
            self.explained.add(number)
            if number not in self.existed:
                continue
            old_kids = _plain(self.old.view.at(number))
            new_kids = _plain(self.new.view.at(number))
            if old_kids != new_kids:
                removed = set(_ref_numbers(old_kids)) - set(_ref_numbers(new_kids))
                if removed:
                    yield self._other(f"widgets or fields {sorted(removed)} were removed from a field", number)

    def _field(self, number: int, name: str, old: object, new: object) -> Iterator[Change]:
        if not isinstance(new, generic.DictionaryObject):
            yield self._other(f"form field '{name}' is no longer a dictionary", number)
            return
        is_sig = _field_type(new, self.new.view) == "/Sig"
        value = self.new.view.latest(new.raw_get("/V")) if is_sig and "/V" in new else None
        is_timestamp = isinstance(value, generic.DictionaryObject) and value.get("/Type") == "/DocTimeStamp"
        page = self._page_of_widget(number, new)
        pages = (page,) if page else ()
        if not isinstance(old, generic.DictionaryObject):
            if number in self.old.fields or number in self.existed:
                yield self._other(f"form field '{name}' was replaced", number)
                return
            if is_sig:
                kind: ChangeClass = "validation_data" if is_timestamp else "signature_added"
                what = (f"document timestamp '{name}' added" if is_timestamp else
                        f"signature field '{name}' added" + (" and signed" if value is not None else ""))
                yield self._region(kind, number, new, what, name if not is_timestamp else None, pages)
            elif number in self.new.terminal or "/Parent" not in new:
                yield self._other(f"form field '{name}' was added after signing", number, pages)
            else:  # a new widget of an existing field: its parent's change is judged with the parent
                yield self._region("form_filling", number, new, f"widget of field '{name}' added", name, pages)
            return
        keys = _changed_keys(old, new)
        if not keys:
            return
        if is_sig:
            if "/V" in keys and "/V" in old:
                yield self._other(f"the signature in field '{name}' was replaced", number, pages)
            elif "/V" in keys and keys <= _SIGN_KEYS:
                kind = "validation_data" if is_timestamp else "signature_added"
                what = f"document timestamp in field '{name}'" if is_timestamp else f"field '{name}' signed"
                yield self._region(kind, number, new, what, None if is_timestamp else name, pages)
            else:
                yield self._other(f"signature field '{name}': {', '.join(sorted(keys))} changed", number, pages)
            return
        flags_only_read_only = "/Ff" in keys and (_int(old.get("/Ff")) | _READ_ONLY) == (_int(new.get("/Ff"))
                                                                                           | _READ_ONLY)
        if keys <= _FILL_KEYS | ({"/Ff"} if flags_only_read_only else set()):
            words = "filled" if "/V" in keys else "appearance updated"
            change = self._region("form_filling", number, new, f"form field '{name}' {words}", name, pages)
            yield dataclasses.replace(change, value_changed="/V" in keys)
        else:
            yield self._other(f"form field '{name}': {', '.join(sorted(keys))} changed", number, pages)

    def _page_of_widget(self, number: int, obj: generic.DictionaryObject) -> int | None:
        page = self.new.annots.get(number)
        if page:
            return page
        for kid in _items(self.new.view.get(obj, "/Kids")):
            if isinstance(kid, generic.IndirectObject) and kid.idnum in self.new.annots:
                return self.new.annots[kid.idnum]
        return None

    # pages and annotations

    def _pages(self) -> Iterator[Change]:
        if list(self.old.pages) != list(self.new.pages):
            added = [self.new.pages[n] for n in self.new.pages if n not in self.old.pages]
            removed = [self.old.pages[n] for n in self.old.pages if n not in self.new.pages]
            words = "; ".join(filter(None, [f"page(s) {added} added" if added else "",
                                            f"page(s) {removed} removed" if removed else "",
                                            "pages reordered" if not added and not removed else ""]))
            yield Change(self.revision, "other", f"page tree: {words}", tuple(sorted(self.new.page_nodes)),
                         tuple(added or removed))
        for number in sorted(self.new.page_nodes & self.changed):
            self.explained.add(number)
        arrays = {page: array for array, page in self.new.annots_arrays.items()}
        for number, page in self.new.pages.items():
            array = arrays.get(page)
            if number not in self.changed and array not in self.changed:
                continue
            self.explained.add(number)
            if array is not None:
                self.explained.add(array)
            if number not in self.existed:
                continue
            old = self.old.view.at(number)
            new = self.new.view.at(number)
            if not isinstance(old, generic.DictionaryObject) or not isinstance(new, generic.DictionaryObject):
                continue
            for key in sorted(_changed_keys(old, new) - {"/Annots"}):
                yield self._other(f"page {page}: {key} changed", number, (page,))

    def _annotations(self) -> Iterator[Change]:
        old_by_page: dict[int, set[int]] = {}
        for number, page in self.old.annots.items():
            old_by_page.setdefault(page, set()).add(number)
        for number, page in sorted(self.new.annots.items()):
            if number in self.new.fields:
                continue  # widgets: judged with their fields
            is_new = number not in self.old.annots
            if not is_new and number not in self.changed:
                continue
            self.explained.add(number)
            obj = self.new.view.at(number)
            subtype = str(obj.get("/Subtype", "?")) if isinstance(obj, generic.DictionaryObject) else "?"
            if subtype == "/Widget":
                yield self._other(f"page {page}: a widget that belongs to no form field was "
                                  f"{'added' if is_new else 'changed'} (object {number})", number, (page,))
                continue
            verb = "added" if is_new else "changed"
            yield self._region("annotations", number, obj, f"page {page}: {subtype.lstrip('/')} annotation {verb} "
                                                          f"(object {number})", None, (page,))
        for number, page in sorted(self.old.annots.items()):
            if number not in self.new.annots:
                if number in self.old.fields:
                    yield self._other(f"page {page}: the widget of field '{self.old.fields[number]}' was removed",
                                      number, (page,))
                else:
                    yield Change(self.revision, "annotations", f"page {page}: annotation removed (object {number})",
                                 (number,), (page,))

    def _signature_values(self) -> Iterator[Change]:
        for number, name in sorted(self.old.sig_values.items()):
            if number in self.existed:
                self.explained.add(number)
                yield self._other(f"the signature dictionary of field '{name}' was rewritten (object {number})",
                                  number)
        for number in self.new.sig_values:
            if number in self.changed and number not in self.existed:
                self.explained.add(number)

    def _validation_data(self) -> Iterator[Change]:
        dss = self.new.dss & self.changed
        metadata = {n for n in (self.new.metadata, self.new.info) if n is not None} & self.changed
        if dss:
            legitimate = dss | ({self.new.root} if self.new.root is not None else set())
            self.explained |= {n for n in dss if not self._used_elsewhere(n, legitimate)}
            yield Change(self.revision, "validation_data", f"document security store (DSS): {len(dss)} objects",
                         tuple(sorted(dss)))
        if metadata:
            self.explained |= metadata
            yield Change(self.revision, "validation_data", "document metadata (XMP, document information) updated",
                         tuple(sorted(metadata)))

    # appearance streams and resources of filled fields, new signatures and annotations

    def _region(self, kind: ChangeClass, number: int, obj: object, what: str, field_name: str | None,
                pages: tuple[int, ...], roots: list[object] | None = None) -> Change:
        """A field, widget or annotation change; the objects its /AP and /V (or `roots`) bring with them belong
        to it."""
        region: set[int] = self.new.view.closure(roots or [])
        if isinstance(obj, generic.DictionaryObject):
            view = self.new.view
            kids = list(_items(view.get(obj, "/Kids")))
            widgets = [obj, *(view.deref(k) for k in kids)]
            region |= {k.idnum for k in kids
                       if isinstance(k, generic.IndirectObject)}
            value = obj.raw_get("/V") if "/V" in obj else None
            if isinstance(value, generic.IndirectObject):
                region.add(value.idnum)  # the value itself; a signature's /Reference data is not its appearance
            for widget in widgets:
                if isinstance(widget, generic.DictionaryObject):
                    region |= view.closure([widget.raw_get(k) for k in ("/AP", "/MK", "/Popup") if k in widget])
        region &= self.changed
        self.allowed_regions.append((kind, region | {number}, field_name, pages))
        return Change(self.revision, kind, what, (number,), pages, field_name)

    def _appearances(self) -> list[Change]:
        """Rewritten objects inside an allowed region that something outside it also uses are not explained."""
        found: list[Change] = []
        everything = set().union(*(region for _k, region, _f, _p in self.allowed_regions))
        for kind, region, _field, pages in self.allowed_regions:
            for number in sorted(region - self.explained):
                if number in self.existed and self._used_elsewhere(number, everything):
                    users = sorted(self.index.users_at(number, self.revision - 1) - everything)[:5]
                    found.append(self._other(f"object {number}, rewritten as part of a {CLASS_WORDS[kind]} change, "
                                             f"is also used by objects {users}", number,
                                             pages or self._pages_using(number)))
                self.explained.add(number)
        return found

    def _used_elsewhere(self, number: int, region: set[int]) -> bool:
        """Whether an object outside `region` (the page, the catalog, the trailer, another resource) uses it."""
        return bool(self.index.users_at(number, self.revision - 1) - region)

    # everything else

    def _remaining(self) -> list[Change]:
        found: list[Change] = []
        for number in sorted(self.changed - self.explained):
            if number in self.existed:
                users = self.index.users_at(number, self.revision - 1) | self.index.users_at(number, self.revision)
                if not users:
                    continue  # an orphan object rewritten: nothing shows or uses it
                obj = self.new.view.at(number)
                found.append(self._other(f"{_describe(obj)} (object {number}) rewritten", number,
                                         self._pages_using(number)))
            elif self.index.users_at(number, self.revision - 1) - {TRAILER}:  # trailer keys are inert
                found.append(self._other(f"object {number} was referred to before it existed and was defined "
                                         "afterwards", number, self._pages_using(number)))
        for number in sorted(self.freed):
            if self.index.users_at(number, self.revision):
                found.append(self._other(f"object {number} was deleted although it is still used", number,
                                         self._pages_using(number)))
        return found

    def _pages_using(self, number: int) -> tuple[int, ...]:
        """Pages that (through any chain of objects) use object `number`, found through the reference index."""
        pages: set[int] = set()
        seen = {number}
        frontier = [number]
        while frontier and len(seen) < 2_000:
            current = frontier.pop()
            page = self.new.pages.get(current) or self.old.pages.get(current)
            if page:
                pages.add(page)
                continue
            for user in self.index.users_at(current, self.revision) | self.index.users_at(current, self.revision - 1):
                if user not in seen:
                    seen.add(user)
                    frontier.append(user)
        return tuple(sorted(pages))

    def _other(self, what: str, number: int | None, pages: tuple[int, ...] = ()) -> Change:
        if number is not None:
            self.explained.add(number)
        return Change(self.revision, "other", what, (number,) if number is not None else (), pages)


# -- small helpers ---------------------------------------------------------------------------------------------------

def _deref(obj: object) -> object:
    try:
        return obj.get_object() if isinstance(obj, generic.IndirectObject) else obj  # type: ignore[no-untyped-call]
    except MemoryError:
        raise
    except Exception:  # a reference that does not resolve reads as null
        return None


def _get(obj: generic.DictionaryObject, key: str) -> object:
    return _deref(obj.raw_get(key)) if key in obj else None


def _items(obj: object) -> Iterator[object]:
    if isinstance(obj, generic.ArrayObject):
        for position in range(len(obj)):
            yield list.__getitem__(obj, position)


def _field_type(obj: generic.DictionaryObject, view: _View) -> object:
    seen = 0
    current: object = obj
    while isinstance(current, generic.DictionaryObject) and seen < 32:
        if "/FT" in current:
            return current.get("/FT")
        current = view.get(current, "/Parent")
        seen += 1
    return None


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return 0


def _changed_keys(old: generic.DictionaryObject, new: generic.DictionaryObject) -> set[str]:
    keys = set(old) | set(new)
    return {str(k) for k in keys if k not in old or k not in new or _plain(old.raw_get(k)) != _plain(new.raw_get(k))}


def _plain(obj: object, depth: int = 0) -> object:
    """A comparable value: references as ("ref", number), containers recursively, streams with their bytes."""
    if depth > _MAX_DEPTH_PLAIN:
        return ("deep",)
    if isinstance(obj, generic.IndirectObject):
        return ("ref", obj.idnum)
    if isinstance(obj, generic.StreamObject):
        return ("stream", _plain_dict(obj, depth), bytes(obj.encoded_data or b""))
    if isinstance(obj, generic.DictionaryObject):
        return _plain_dict(obj, depth)
    if isinstance(obj, generic.ArrayObject):
        return tuple(_plain(list.__getitem__(obj, i), depth + 1) for i in range(len(obj)))
    if obj is None or isinstance(obj, generic.NullObject):
        return ("null",)
    if isinstance(obj, bytes | str | int | float | bool):
        return (type(obj).__name__, obj)
    return (type(obj).__name__, str(obj))


_MAX_DEPTH_PLAIN = 64


def _plain_dict(obj: generic.DictionaryObject, depth: int) -> object:
    return tuple(sorted((str(k), _plain(obj.raw_get(k), depth + 1)) for k in obj))


def _ref_numbers(plain: object) -> Iterator[int]:
    if isinstance(plain, tuple):
        if len(plain) == 2 and plain[0] == "ref" and isinstance(plain[1], int):
            yield plain[1]
            return
        for part in plain:
            yield from _ref_numbers(part)


_NOT_FOLLOWED = {"/P", "/Parent", "/Data", "/IRT"}  # links back to pages, fields and the document


def _describe(obj: object) -> str:
    if isinstance(obj, generic.StreamObject):
        subtype = obj.get("/Subtype") or obj.get("/Type")
        return f"a stream ({str(subtype).lstrip('/')})" if subtype else "a stream"
    if isinstance(obj, generic.DictionaryObject):
        kind = obj.get("/Type") or obj.get("/Subtype")
        return f"a {str(kind).lstrip('/')} dictionary" if kind else "a dictionary"
    if isinstance(obj, generic.ArrayObject):
        return "an array"
    return "an object"


def change_sentence(change: Change) -> str:
    """One change in words: revision, class, what, and why it is not allowed (if it is not)."""
    why = f" — not allowed: {change.violation}" if change.violation else ""
    where = ""
    numbers = [n for n in change.objects if n]
    if numbers and "object" not in change.what:
        listed = ", ".join(str(n) for n in numbers[:6]) + (", ..." if len(numbers) > 6 else "")
        where += f" (object{'s' if len(numbers) > 1 else ''} {listed})"
    if change.pages and "page" not in change.what:
        where += f" on page{'s' if len(change.pages) > 1 else ''} {', '.join(map(str, change.pages))}"
    return f"revision {change.revision + 1}, {CLASS_WORDS[change.kind]}: {change.what}{where}{why}"


def change_sentences(changes: list[Change], limit: int = 8) -> str:
    """Several changes in one sentence, the first `limit` of them named."""
    text = "; ".join(change_sentence(c) for c in changes[:limit])
    return text + (f"; and {len(changes) - limit} more" if len(changes) > limit else "")


def classes(changes: list[Change]) -> list[ModificationClass]:
    """The modification classes of `changes` in a fixed order ('none' when there are none)."""
    found = {c.kind for c in changes}
    return [k for k in _CLASS_ORDER if k in found] or ["none"]


def pyhanko_level(changes: list[Change]) -> str:
    """The report's single `modification` value (pyHanko's level names) for `changes`."""
    level = max((CLASS_LEVEL[c.kind] for c in changes), default=0)
    return ["none", "lta_updates", "form_filling", "annotations", "other"][level]
