//! Resource shaping: validating and normalising the bodies clients POST/PUT (RFC 7643 §2, §7),
//! and projecting stored resources onto `attributes`/`excludedAttributes` (RFC 7644 §3.4.2.5, §3.9).

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::schema::{
    AttrType, AttributeDef, COMMON_ATTRIBUTES, Mutability, ResourceSchemas, Returned, SchemaDef,
};

/// Turns a POST/PUT body into the JSON we store: known attributes only, names in canonical case,
/// readOnly ones dropped (`id`, `meta`, `groups`, `members[].display`…), writeOnly `password` dropped (never
/// stored), `schemas` rebuilt from the core URN plus the extensions present, booleans given as
/// "True"/"False"/"true" strings coerced (Entra sends those), types checked (String/Boolean/Integer/
/// Decimal/DateTime RFC 3339/Reference/Complex, multi-valued must be arrays — except accept a single
/// object/value for a multi-valued attribute by wrapping it), required attributes present and non-empty
/// (userName / displayName) → invalid_value naming the attribute; unknown top-level attributes →
/// invalid_syntax naming the attribute (except `schemas`); unknown sub-attributes → invalid_syntax; an extension
/// URN key for an extension this kind doesn't have → invalid_syntax; a body that is not an object → invalid_syntax.
/// Null values = absent. Entra's manager as a plain string id is accepted and stored as {"value": id}.
/// Multi-valued `primary`: more than one `true` → invalid_value.
///
/// Also: empty arrays and objects count as absent (RFC 7643 §2.5), the same attribute given twice
/// under different casing → invalid_syntax, and URN-qualified top-level keys
/// (`urn:…:enterprise:2.0:User:department`) are accepted. The output lists attributes in schema
/// order so stored documents are stable whatever order clients send.
/// Refuses a normalised resource with a multi-valued attribute of more than `max` values (core
/// attributes at the top, an extension's inside its URN object), naming the attribute. An update
/// passes the stored resource as `before`: a list stored before the cap existed may keep its
/// size (or shrink), so such a user can still be deactivated.
pub fn check_multi_values(data: &Value, before: Option<&Value>, max: usize) -> ScimResult<()> {
    let Some(object) = data.as_object() else { return Ok(()) };
    let stored_len = |path: &[&str]| -> usize {
        let mut at = before;
        for key in path {
            at = at.and_then(|v| v.get(key));
        }
        at.and_then(Value::as_array).map_or(0, Vec::len)
    };
    let too_many = |name: &str, path: &[&str], value: &Value| match value.as_array() {
        Some(values) if values.len() > max && values.len() > stored_len(path) => {
            Err(ScimError::invalid_value(format!(
                "'{name}' has {} values; at most {max} are accepted",
                values.len()
            )))
        }
        _ => Ok(()),
    };
    for (key, value) in object {
        match value.as_object() {
            Some(extension) if key.starts_with("urn:") => {
                for (name, value) in extension {
                    too_many(&format!("{key}:{name}"), &[key, name], value)?;
                }
            }
            _ => too_many(key, &[key], value)?,
        }
    }
    Ok(())
}

pub fn normalize_resource(schemas: ResourceSchemas, body: &Value) -> ScimResult<Value> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the resource body must be a JSON object"))?;
    let core = schemas.core();
    let extensions = schemas.extensions();
    let mut core_values = Map::new();
    let mut extension_values: Vec<Map<String, Value>> = vec![Map::new(); extensions.len()];

    for (key, value) in object {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        match classify_key(schemas, key) {
            Key::Plain(name) => put_in(core, false, name, value, &mut core_values)?,
            Key::CoreObject => {
                for (name, value) in members_of(core.id, value)? {
                    put_in(core, false, name, value, &mut core_values)?;
                }
            }
            Key::ExtensionObject(index) => {
                let (schema, target) = extension_slot(extensions, &mut extension_values, index)?;
                for (name, value) in members_of(schema.id, value)? {
                    put_in(schema, true, name, value, target)?;
                }
            }
            Key::Extension(index, name) => {
                let (schema, target) = extension_slot(extensions, &mut extension_values, index)?;
                put_in(schema, true, name, value, target)?;
            }
            Key::UnknownUrn => {
                return Err(ScimError::invalid_syntax(format!(
                    "'{key}' is not a schema extension of the {} resource type",
                    schemas.core().name
                )));
            }
        }
    }

    check_required(core.attributes, &core_values, "")?;
    check_column_lengths(&core_values)?;
    let mut out = Map::new();
    let mut schemas = vec![Value::from(core.id)];
    let mut extension_out = Vec::new();
    for (schema, values) in extensions.iter().zip(extension_values) {
        if values.is_empty() {
            continue;
        }
        let prefix = format!("{}:", schema.id);
        check_required(schema.attributes, &values, &prefix)?;
        schemas.push(Value::from(schema.id));
        extension_out.push((schema.id, ordered(&[schema.attributes], values)));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.extend(ordered(&[COMMON_ATTRIBUTES, core.attributes], core_values));
    for (urn, values) in extension_out {
        out.insert(urn.into(), Value::Object(values));
    }
    Ok(Value::Object(out))
}

/// Longest `userName`, `displayName` and `externalId`, in bytes of their lower-cased UTF-8. They
/// have columns of their own under btree indexes, and a PostgreSQL btree entry cannot exceed about
/// 2.7 kB (the insert would fail, a 500) while SQLite has no limit: the cap makes both backends
/// answer alike, far above any real name or id.
pub const MAX_COLUMN_BYTES: usize = 2048;

fn check_column_lengths(core_values: &Map<String, Value>) -> ScimResult<()> {
    for name in ["userName", "displayName", "externalId"] {
        let Some(text) = core_values.get(name).and_then(Value::as_str) else { continue };
        if text.to_lowercase().len() > MAX_COLUMN_BYTES {
            return Err(ScimError::invalid_value(format!(
                "'{name}' is longer than {MAX_COLUMN_BYTES} bytes"
            )));
        }
    }
    Ok(())
}

/// How a top-level key of a resource body is to be read.
enum Key<'a> {
    /// An attribute of the core schema (or a common attribute), possibly URN-qualified.
    Plain(&'a str),
    /// The core schema URN holding an object of core attributes.
    CoreObject,
    /// The URN of extension `index` of the kind, holding that extension's attributes.
    ExtensionObject(usize),
    /// `<extension URN>:<attribute>`.
    Extension(usize, &'a str),
    /// A URN naming no schema of this kind.
    UnknownUrn,
}

fn classify_key(schemas: ResourceSchemas, key: &str) -> Key<'_> {
    match strip_urn(key, schemas.core().id) {
        Some("") => return Key::CoreObject,
        Some(name) => return Key::Plain(name),
        None => {}
    }
    for (index, schema) in schemas.extensions().iter().enumerate() {
        match strip_urn(key, schema.id) {
            Some("") => return Key::ExtensionObject(index),
            Some(name) => return Key::Extension(index, name),
            None => {}
        }
    }
    if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        Key::UnknownUrn
    } else {
        Key::Plain(key)
    }
}

/// `Some("")` when `key` is the URN itself, `Some(attr)` for `urn:attr`, else `None` (case-insensitive).
fn strip_urn<'a>(key: &'a str, urn: &str) -> Option<&'a str> {
    if !key.get(..urn.len())?.eq_ignore_ascii_case(urn) {
        return None;
    }
    let rest = key.get(urn.len()..)?;
    if rest.is_empty() { Some("") } else { rest.strip_prefix(':').filter(|r| !r.is_empty()) }
}

fn members_of<'a>(urn: &str, value: &'a Value) -> ScimResult<Vec<(&'a str, &'a Value)>> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Object(map) => Ok(map.iter().map(|(k, v)| (k.as_str(), v)).collect()),
        _ => Err(ScimError::invalid_syntax(format!("'{urn}' must be a JSON object"))),
    }
}

fn extension_slot<'m>(
    extensions: &'static [&'static SchemaDef],
    values: &'m mut [Map<String, Value>],
    index: usize,
) -> ScimResult<(&'static SchemaDef, &'m mut Map<String, Value>)> {
    match (extensions.get(index), values.get_mut(index)) {
        (Some(schema), Some(target)) => Ok((schema, target)),
        _ => Err(ScimError::internal("schema extension index out of range")),
    }
}

/// Stores attribute `name` of `schema`. The core schema also holds the common attributes (`id`,
/// `externalId`, `meta`); an extension's attributes are named with its URN in paths and errors.
fn put_in(
    schema: &'static SchemaDef,
    extension: bool,
    name: &str,
    value: &Value,
    target: &mut Map<String, Value>,
) -> ScimResult<()> {
    let (common, prefix) = if extension {
        (&[][..], format!("{}:", schema.id))
    } else {
        (COMMON_ATTRIBUTES, String::new())
    };
    let def = common
        .iter()
        .chain(schema.attributes)
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| ScimError::invalid_syntax(format!("unknown attribute '{prefix}{name}'")))?;
    put_attribute(def, format!("{prefix}{}", def.name), value, target)
}

/// Validates one attribute and stores it under its canonical name, unless clients may not set it.
fn put_attribute(
    def: &'static AttributeDef,
    path: String,
    value: &Value,
    target: &mut Map<String, Value>,
) -> ScimResult<()> {
    if !client_writable(def) {
        return Ok(());
    }
    let Some(value) = normalize_value(def, value, &path)? else {
        return Ok(());
    };
    if target.insert(def.name.to_owned(), value).is_some() {
        return Err(ScimError::invalid_syntax(format!(
            "attribute '{path}' is given more than once"
        )));
    }
    Ok(())
}

/// ReadOnly values are the server's to set and writeOnly ones are never stored, so both are
/// silently dropped: clients such as Okta echo `id`, `meta` and `groups` back on PUT.
fn client_writable(def: &AttributeDef) -> bool {
    !def.computed && matches!(def.mutability, Mutability::ReadWrite | Mutability::Immutable)
}

/// Checks and canonicalises a value; `None` means "absent" (null, empty array, empty object).
fn normalize_value(
    def: &'static AttributeDef,
    value: &Value,
    path: &str,
) -> ScimResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if !def.multi_valued {
        if value.is_array() {
            return Err(ScimError::invalid_value(format!("'{path}' is single-valued")));
        }
        return normalize_single(def, value, path);
    }
    let items = match value {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter().filter(|item| !item.is_null()) {
        if item.is_array() {
            return Err(ScimError::invalid_value(format!("'{path}' values cannot be arrays")));
        }
        if let Some(item) = normalize_single(def, item, path)? {
            out.push(item);
        }
    }
    if out.iter().filter(|item| item.get("primary") == Some(&Value::Bool(true))).count() > 1 {
        return Err(ScimError::invalid_value(format!(
            "at most one value of '{path}' may have primary set to true"
        )));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn normalize_single(
    def: &'static AttributeDef,
    value: &Value,
    path: &str,
) -> ScimResult<Option<Value>> {
    let wrong = |expected: &str| {
        ScimError::invalid_value(format!("'{path}' must be {expected}, got {}", json_type(value)))
    };
    match def.kind {
        AttrType::String | AttrType::Reference => {
            value.as_str().map(|_| Some(value.clone())).ok_or_else(|| wrong("a string"))
        }
        AttrType::Binary => match value.as_str() {
            Some(s) if is_base64(s) => Ok(Some(value.clone())),
            Some(_) => Err(ScimError::invalid_value(format!("'{path}' is not valid base64"))),
            None => Err(wrong("a base64 string")),
        },
        AttrType::DateTime => match value.as_str() {
            Some(s) if is_rfc3339(s) => Ok(Some(value.clone())),
            Some(_) => Err(ScimError::invalid_value(format!(
                "'{path}' is not an RFC 3339 date-time such as 2008-01-23T04:56:22Z"
            ))),
            None => Err(wrong("a date-time string")),
        },
        AttrType::Boolean => match value {
            Value::Bool(_) => Ok(Some(value.clone())),
            // Entra ID sends "True"/"False".
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => {
                Ok(Some(Value::Bool(true)))
            }
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => {
                Ok(Some(Value::Bool(false)))
            }
            _ => Err(wrong("a boolean")),
        },
        AttrType::Integer => {
            if value.is_i64() || value.is_u64() {
                Ok(Some(value.clone()))
            } else {
                Err(wrong("an integer"))
            }
        }
        AttrType::Decimal => {
            if value.is_number() {
                Ok(Some(value.clone()))
            } else {
                Err(wrong("a number"))
            }
        }
        AttrType::Complex => match value {
            Value::Object(object) => normalize_complex(def, object, path),
            // Entra ID sends the enterprise `manager` as the bare id of the manager.
            Value::String(id) if !def.multi_valued && def.sub_attribute("value").is_some() => {
                if id.is_empty() {
                    return Ok(None);
                }
                let mut object = Map::new();
                object.insert("value".into(), value.clone());
                Ok(Some(Value::Object(object)))
            }
            _ => Err(wrong("an object")),
        },
    }
}

fn normalize_complex(
    def: &'static AttributeDef,
    object: &Map<String, Value>,
    path: &str,
) -> ScimResult<Option<Value>> {
    let mut out = Map::new();
    for (key, value) in object {
        let sub = def.sub_attribute(key).ok_or_else(|| {
            ScimError::invalid_syntax(format!("unknown sub-attribute '{path}.{key}'"))
        })?;
        put_attribute(sub, format!("{path}.{}", sub.name), value, &mut out)?;
    }
    if out.is_empty() {
        return Ok(None);
    }
    check_required(def.sub_attributes, &out, &format!("{path}."))?;
    Ok(Some(Value::Object(ordered(&[def.sub_attributes], out))))
}

/// Required, client-writable attributes must be present with a non-blank value.
fn check_required(
    defs: &[AttributeDef],
    values: &Map<String, Value>,
    prefix: &str,
) -> ScimResult<()> {
    for def in defs.iter().filter(|d| d.required && client_writable(d)) {
        let present = match values.get(def.name) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
        };
        if !present {
            return Err(ScimError::invalid_value(format!(
                "required attribute '{prefix}{}' is missing or empty",
                def.name
            )));
        }
    }
    Ok(())
}

/// Re-emits `values` in definition order; keys are already canonical attribute names.
fn ordered(defs: &[&[AttributeDef]], mut values: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for def in defs.iter().flat_map(|d| d.iter()) {
        if let Some(value) = values.remove(def.name) {
            out.insert(def.name.to_owned(), value);
        }
    }
    out
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Standard or URL-safe alphabet, padding optional, line breaks tolerated (PEM bodies).
fn is_base64(s: &str) -> bool {
    let compact: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let data_len = compact.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let padding = compact.len() - data_len;
    compact.iter().take(data_len).all(|&b| b.is_ascii_alphanumeric() || b"+/-_".contains(&b))
        && padding <= 2
        && (padding == 0 || compact.len().is_multiple_of(4))
        && data_len % 4 != 1
}

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with calendar checks.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |start: usize, len: usize| -> Option<u32> {
        let digits = b.get(start..start + len)?;
        digits
            .iter()
            .try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
    };
    let at = |i: usize, expected: &[u8]| b.get(i).is_some_and(|c| expected.contains(c));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (num(0, 4), num(5, 2), num(8, 2), num(11, 2), num(14, 2), num(17, 2))
    else {
        return false;
    };
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt") && at(13, b":") && at(16, b":")) {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if at(i, b".") {
        let digits =
            b.get(i + 1..).map_or(0, |rest| rest.iter().take_while(|c| c.is_ascii_digit()).count());
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len()
                && at(i + 3, b":")
                && num(i + 1, 2).is_some_and(|h| h <= 23)
                && num(i + 4, 2).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

/// A path named in `attributes`/`excludedAttributes`, resolved against the schema so that
/// comparisons use canonical names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProjectedPath {
    /// `None` for the core namespace (which includes `id`, `externalId`, `meta`), else an extension URN.
    urn: Option<&'static str>,
    /// `None` only with an extension URN: the whole extension object.
    attr: Option<&'static str>,
    sub: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Default,
    Include(Vec<ProjectedPath>),
    Exclude(Vec<ProjectedPath>),
}

/// Which sub-attributes of a kept attribute survive.
enum SubFilter {
    /// Every sub-attribute that is returned by default; `with_request` adds `returned: request` ones.
    All {
        with_request: bool,
    },
    Only(Vec<&'static str>),
    Except(Vec<&'static str>),
}

/// Projection per RFC 7644 §3.4.2.5 and §3.9: `attributes` (only these + returned:always ones — `id`, and we
/// also always keep `schemas`) or `excludedAttributes` (all default ones minus these; returned:always
/// can't be excluded); `returned: never` never appears (password), `returned: request` only when asked.
/// Names are case-insensitive, may be `name.givenName`, `emails.value`, URN-qualified
/// (`urn:…:enterprise:2.0:User:department`, or the bare extension URN meaning the whole extension object),
/// and `meta.lastModified` style paths on meta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    schemas: ResourceSchemas,
    mode: Mode,
}

impl Projection {
    /// The projection used when the request names no attributes: every `returned: default` one.
    pub fn default_for(schemas: ResourceSchemas) -> Projection {
        Projection { schemas, mode: Mode::Default }
    }

    /// Parses the comma-separated query parameters. Giving both → `bad_request` (400 without
    /// `scimType`: no RFC 7644 keyword fits a malformed query). An empty parameter counts as
    /// absent. Unknown names are ignored, as RFC 7644 requires for `excludedAttributes` and as
    /// leniency toward clients suggests for `attributes`.
    pub fn parse(
        schemas: ResourceSchemas,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> ScimResult<Projection> {
        let mode = match (non_empty(attributes), non_empty(excluded)) {
            (Some(_), Some(_)) => {
                return Err(ScimError::bad_request(
                    "attributes and excludedAttributes cannot be used together",
                ));
            }
            (Some(list), None) => Mode::Include(parse_list(schemas, list)),
            (None, Some(list)) => Mode::Exclude(parse_list(schemas, list)),
            (None, None) => Mode::Default,
        };
        Ok(Projection { schemas, mode })
    }

    /// Applies the projection to a stored or rendered resource. Keys that are not schema
    /// attributes are kept unless `attributes` was given, which lists everything wanted. The
    /// resource is taken, not borrowed: what is kept moves into the answer instead of being
    /// copied (every GET and every row of a page passes through here).
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(object) = resource else {
            return resource;
        };
        let mut out = Map::with_capacity(object.len());
        for (key, value) in object {
            if key.eq_ignore_ascii_case("schemas") {
                out.insert(key, value);
            } else if let Some(schema) = self.schemas.extension(&key) {
                if let Some(value) = self.project_extension(schema, value) {
                    out.insert(key, value);
                }
            } else if let Some(def) = self.schemas.find_attribute(None, &key, None) {
                if let Some(filter) = self.decide(None, def)
                    && let Some(value) = filter_value(def, value, &filter)
                {
                    out.insert(key, value);
                }
            } else if !matches!(self.mode, Mode::Include(_)) {
                out.insert(key, value);
            }
        }
        Value::Object(out)
    }

    /// True when the projection leaves the given top-level attribute out, so the storage layer
    /// can skip loading it (e.g. a group's `members`).
    ///
    /// Accepts the same spellings as [`Projection::parse`]; a sub-attribute path answers for its
    /// parent. `schemas` is never excluded; other names that are not attributes of the kind are
    /// excluded only under `attributes`, mirroring [`Projection::apply`].
    pub fn excludes(&self, attribute: &str) -> bool {
        if attribute.trim().eq_ignore_ascii_case("schemas") {
            return false;
        }
        let Some(path) = parse_path(self.schemas, attribute) else {
            return matches!(self.mode, Mode::Include(_));
        };
        let Some(name) = path.attr else {
            // A whole extension object.
            return match &self.mode {
                Mode::Default => false,
                Mode::Include(paths) => !paths.iter().any(|p| p.urn == path.urn),
                Mode::Exclude(paths) => paths.iter().any(|p| p.urn == path.urn && p.attr.is_none()),
            };
        };
        match self.schemas.find_attribute(path.urn, name, None) {
            Some(def) => self.decide(path.urn, def).is_none(),
            None => matches!(self.mode, Mode::Include(_)),
        }
    }

    fn project_extension(&self, schema: &'static SchemaDef, value: Value) -> Option<Value> {
        let Value::Object(object) = value else {
            return (!self.excludes(schema.id)).then_some(value);
        };
        let was_empty = object.is_empty();
        let mut out = Map::new();
        for (key, value) in object {
            match schema.attribute(&key) {
                Some(def) => {
                    if let Some(filter) = self.decide(Some(schema.id), def)
                        && let Some(value) = filter_value(def, value, &filter)
                    {
                        out.insert(key, value);
                    }
                }
                None if !matches!(self.mode, Mode::Include(_)) => {
                    out.insert(key, value);
                }
                None => {}
            }
        }
        (!out.is_empty() || (was_empty && !self.excludes(schema.id))).then_some(Value::Object(out))
    }

    /// Whether a top-level attribute is returned and, if so, which of its sub-attributes.
    fn decide(&self, urn: Option<&'static str>, def: &AttributeDef) -> Option<SubFilter> {
        let whole = |paths: &[ProjectedPath]| {
            paths.iter().any(|p| {
                p.urn == urn
                    && match p.attr {
                        None => urn.is_some(),
                        Some(attr) => attr == def.name && p.sub.is_none(),
                    }
            })
        };
        let subs = |paths: &[ProjectedPath]| -> Vec<&'static str> {
            paths
                .iter()
                .filter(|p| p.urn == urn && p.attr == Some(def.name))
                .filter_map(|p| p.sub)
                .collect()
        };
        match (&self.mode, def.returned) {
            (_, Returned::Never) => None,
            (Mode::Include(paths), Returned::Always) => {
                Some(SubFilter::All { with_request: whole(paths) })
            }
            (_, Returned::Always) => Some(SubFilter::All { with_request: false }),
            (Mode::Default, Returned::Default) => Some(SubFilter::All { with_request: false }),
            (Mode::Default, Returned::Request) => None,
            (Mode::Include(paths), _) => {
                if whole(paths) {
                    Some(SubFilter::All { with_request: true })
                } else {
                    let subs = subs(paths);
                    (!subs.is_empty()).then_some(SubFilter::Only(subs))
                }
            }
            (Mode::Exclude(_), Returned::Request) => None,
            (Mode::Exclude(paths), Returned::Default) => {
                if whole(paths) {
                    None
                } else {
                    let subs = subs(paths);
                    Some(if subs.is_empty() {
                        SubFilter::All { with_request: false }
                    } else {
                        SubFilter::Except(subs)
                    })
                }
            }
        }
    }
}

/// A parameter with no names in it (`""`, `" , "`) is treated as not given.
fn non_empty(list: Option<&str>) -> Option<&str> {
    list.filter(|s| s.split(',').any(|n| !n.trim().is_empty()))
}

fn parse_list(schemas: ResourceSchemas, list: &str) -> Vec<ProjectedPath> {
    list.split(',').filter_map(|name| parse_path(schemas, name.trim())).collect()
}

/// Resolves `attr`, `attr.sub`, `<urn>:attr[.sub]` or a bare extension URN; `None` if unknown.
fn parse_path(schemas: ResourceSchemas, raw: &str) -> Option<ProjectedPath> {
    let raw = raw.trim();
    let (urn, rest) = match classify_key(schemas, raw) {
        Key::Plain(rest) => (None, rest),
        Key::ExtensionObject(index) => {
            let schema = schemas.extensions().get(index)?;
            return Some(ProjectedPath { urn: Some(schema.id), attr: None, sub: None });
        }
        Key::Extension(index, rest) => (Some(schemas.extensions().get(index)?.id), rest),
        Key::CoreObject | Key::UnknownUrn => return None,
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    let def = schemas.find_attribute(urn, name, None)?;
    let sub = match sub {
        Some(sub) => Some(def.sub_attribute(sub)?.name),
        None => None,
    };
    Some(ProjectedPath { urn, attr: Some(def.name), sub })
}

fn keep_sub(filter: &SubFilter, sub: Option<&AttributeDef>) -> bool {
    let Some(sub) = sub else {
        // Not in the schema: only an explicit sub-attribute list leaves it out.
        return !matches!(filter, SubFilter::Only(_));
    };
    match (sub.returned, filter) {
        (Returned::Never, _) => false,
        (Returned::Always, _) => true,
        (Returned::Request, SubFilter::All { with_request }) => *with_request,
        (Returned::Request, SubFilter::Except(_)) => false,
        (_, SubFilter::All { .. }) => true,
        (_, SubFilter::Only(names)) => names.contains(&sub.name),
        (Returned::Default, SubFilter::Except(names)) => !names.contains(&sub.name),
    }
}

/// Filters the sub-attributes of a complex value; values a filter empties are dropped, but
/// values that were empty to begin with are passed through as stored.
fn filter_value(def: &AttributeDef, value: Value, filter: &SubFilter) -> Option<Value> {
    if !def.is_complex() {
        return Some(value);
    }
    let filter_object = |object: Map<String, Value>| -> Option<Value> {
        let was_empty = object.is_empty();
        let kept: Map<String, Value> = object
            .into_iter()
            .filter(|(key, _)| keep_sub(filter, def.sub_attribute(key)))
            .collect();
        (was_empty || !kept.is_empty()).then_some(Value::Object(kept))
    };
    match value {
        Value::Object(object) => filter_object(object),
        Value::Array(items) => {
            let was_empty = items.is_empty();
            let kept: Vec<Value> = items
                .into_iter()
                .filter_map(|item| match item {
                    Value::Object(object) => filter_object(object),
                    other => Some(other),
                })
                .collect();
            (was_empty || !kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::{
        ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Registry, ResourceKind, USER_SCHEMA,
    };
    use serde_json::json;

    const USER: ResourceKind = ResourceKind::User;
    const GROUP: ResourceKind = ResourceKind::Group;

    fn schemas(kind: ResourceKind) -> ResourceSchemas {
        Registry::builtin().resource(kind)
    }

    fn normalize_resource(kind: ResourceKind, body: &Value) -> ScimResult<Value> {
        super::normalize_resource(schemas(kind), body)
    }

    fn parse(
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> ScimResult<Projection> {
        Projection::parse(schemas(kind), attributes, excluded)
    }

    fn keys(value: &Value) -> Vec<&str> {
        value.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default()
    }

    #[test]
    fn okta_create_body_is_stored_without_password_or_groups() {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": "isaac.brock@example.com",
            "name": { "givenName": "Isaac", "familyName": "Brock" },
            "emails": [{ "primary": true, "value": "isaac.brock@example.com", "type": "work" }],
            "displayName": "Isaac Brock",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        });
        let stored = normalize_resource(USER, &body).unwrap();
        assert_eq!(
            stored,
            json!({
                "schemas": [USER_SCHEMA],
                "externalId": "00ujl29u0le5T6Aj10h7",
                "userName": "isaac.brock@example.com",
                "name": { "familyName": "Brock", "givenName": "Isaac" },
                "displayName": "Isaac Brock",
                "locale": "en-US",
                "active": true,
                "emails": [{ "value": "isaac.brock@example.com", "type": "work", "primary": true }]
            })
        );
        // Schema order, whatever order the client used.
        assert_eq!(
            keys(&stored),
            [
                "schemas",
                "externalId",
                "userName",
                "name",
                "displayName",
                "locale",
                "active",
                "emails"
            ]
        );
        assert_eq!(keys(&stored["name"]), ["familyName", "givenName"]);
        assert_eq!(keys(&stored["emails"][0]), ["value", "type", "primary"]);
    }

    #[test]
    fn okta_put_echo_drops_read_only_attributes() {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
            "userName": "test.user@okta.local",
            "name": { "givenName": "Another", "middleName": "Mid", "familyName": "User" },
            "emails": [{ "primary": true, "value": "test.user@okta.local", "type": "work" }],
            "displayName": "Another User",
            "active": true,
            "groups": [{ "value": "g1", "display": "Engineering", "$ref": "https://x/Groups/g1" }],
            "meta": {
                "resourceType": "User",
                "created": "2024-01-01T00:00:00Z",
                "lastModified": "2024-01-02T00:00:00Z",
                "location": "https://scim.example.com/scim/v2/Users/23a35c27",
                "version": "W/\"3\""
            }
        });
        let stored = normalize_resource(USER, &body).unwrap();
        assert_eq!(
            keys(&stored),
            ["schemas", "userName", "name", "displayName", "active", "emails"]
        );
        assert_eq!(
            stored["name"],
            json!({ "familyName": "User", "givenName": "Another", "middleName": "Mid" })
        );
    }

    #[test]
    fn entra_body_with_string_booleans_capitalised_names_and_manager_id() {
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "UserName": "Test_User_dfeef4c5@contoso.com",
            "active": "False",
            "DisplayName": "Test User",
            "Emails": [{ "Primary": "True", "Type": "work", "Value": "Test_User@contoso.com" }],
            "meta": { "resourceType": "User" },
            "Name": { "FamilyName": "familyName", "GivenName": "givenName" },
            "addresses": [{ "type": "work", "formatted": "1 Main St", "primary": "true" }],
            "roles": [],
            "title": "Engineer",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "1234",
                "Department": "Engineering",
                "manager": "26118915-6090-4610-87e4-49d8ca9f808d"
            }
        });
        let stored = normalize_resource(USER, &body).unwrap();
        assert_eq!(
            stored,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "userName": "Test_User_dfeef4c5@contoso.com",
                "name": { "familyName": "familyName", "givenName": "givenName" },
                "displayName": "Test User",
                "title": "Engineer",
                "active": false,
                "emails": [{ "value": "Test_User@contoso.com", "type": "work", "primary": true }],
                "addresses": [{ "formatted": "1 Main St", "type": "work", "primary": true }],
                ENTERPRISE_USER_SCHEMA: {
                    "employeeNumber": "1234",
                    "department": "Engineering",
                    "manager": { "value": "26118915-6090-4610-87e4-49d8ca9f808d" }
                }
            })
        );
        assert_eq!(keys(&stored).last(), Some(&ENTERPRISE_USER_SCHEMA));
    }

    #[test]
    fn accepted_bodies_normalise_as_expected() {
        let ent = ENTERPRISE_USER_SCHEMA;
        let cert = "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx";
        let cases: Vec<(&str, ResourceKind, Value, Value)> = vec![
            (
                "single object for a multi-valued attribute is wrapped",
                USER,
                json!({ "userName": "a", "emails": { "value": "a@x.com" } }),
                json!({ "schemas": [USER_SCHEMA], "userName": "a", "emails": [{ "value": "a@x.com" }] }),
            ),
            (
                "nulls, empty arrays and empty objects are absent",
                USER,
                json!({ "userName": "a", "displayName": null, "name": { "givenName": null },
                        "emails": [], "phoneNumbers": [null], ent: {} }),
                json!({ "schemas": [USER_SCHEMA], "userName": "a" }),
            ),
            (
                "extension URN listed in schemas but no values is not kept",
                USER,
                json!({ "schemas": [USER_SCHEMA, ent], "userName": "a", ent: null }),
                json!({ "schemas": [USER_SCHEMA], "userName": "a" }),
            ),
            (
                "URN-qualified attribute keys",
                USER,
                json!({ format!("{USER_SCHEMA}:userName"): "a",
                        format!("{ent}:department"): "Eng" }),
                json!({ "schemas": [USER_SCHEMA, ent], "userName": "a", ent: { "department": "Eng" } }),
            ),
            (
                "core URN object and lower-case extension URN",
                USER,
                json!({ USER_SCHEMA: { "userName": "a" }, ent.to_lowercase(): { "costCenter": "42" } }),
                json!({ "schemas": [USER_SCHEMA, ent], "userName": "a", ent: { "costCenter": "42" } }),
            ),
            (
                "manager object keeps value and drops the readOnly displayName",
                USER,
                json!({ "userName": "a", ent: { "manager": { "value": "m1", "displayName": "Boss", "$ref": "../Users/m1" } } }),
                json!({ "schemas": [USER_SCHEMA, ent], "userName": "a",
                        ent: { "manager": { "value": "m1", "$ref": "../Users/m1" } } }),
            ),
            (
                "empty manager string means no manager",
                USER,
                json!({ "userName": "a", ent: { "manager": "" } }),
                json!({ "schemas": [USER_SCHEMA], "userName": "a" }),
            ),
            (
                "one primary among several is fine; primary false kept",
                USER,
                json!({ "userName": "a", "phoneNumbers": [
                    { "value": "1", "primary": "TRUE" }, { "value": "2", "primary": false } ] }),
                json!({ "schemas": [USER_SCHEMA], "userName": "a", "phoneNumbers": [
                    { "value": "1", "primary": true }, { "value": "2", "primary": false } ] }),
            ),
            (
                "binary and reference values",
                USER,
                json!({ "userName": "a", "profileUrl": "https://x/a", "x509Certificates": [{ "value": cert }],
                        "photos": [{ "value": "https://x/a.jpg", "type": "photo" }] }),
                json!({ "schemas": [USER_SCHEMA], "userName": "a", "profileUrl": "https://x/a",
                        "photos": [{ "value": "https://x/a.jpg", "type": "photo" }],
                        "x509Certificates": [{ "value": cert }] }),
            ),
            (
                "empty optional strings are kept as sent",
                USER,
                json!({ "userName": "a", "title": "" }),
                json!({ "schemas": [USER_SCHEMA], "userName": "a", "title": "" }),
            ),
            (
                "group members: display is computed, a member with nothing else is dropped",
                GROUP,
                json!({ "schemas": [GROUP_SCHEMA], "id": "g1", "DisplayName": "Eng", "members": [
                    { "value": "u1", "display": "Alice", "type": "User", "$ref": "https://x/Users/u1" },
                    { "display": "ghost" },
                    { "VALUE": "g2", "type": "Group" } ] }),
                json!({ "schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [
                    { "value": "u1", "$ref": "https://x/Users/u1", "type": "User" },
                    { "value": "g2", "type": "Group" } ] }),
            ),
            (
                "Okta group push with no members",
                GROUP,
                json!({ "schemas": [GROUP_SCHEMA], "displayName": "Test Group", "members": [] }),
                json!({ "schemas": [GROUP_SCHEMA], "displayName": "Test Group" }),
            ),
        ];
        for (label, kind, body, expected) in cases {
            let stored = normalize_resource(kind, &body).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(stored, expected, "{label}");
        }
    }

    #[test]
    fn rejected_bodies_name_the_problem() {
        use ScimType::{InvalidSyntax, InvalidValue};
        let ent = ENTERPRISE_USER_SCHEMA;
        let cases: Vec<(ResourceKind, Value, ScimType, &str)> = vec![
            (USER, json!([{ "userName": "a" }]), InvalidSyntax, "JSON object"),
            (USER, json!("userName"), InvalidSyntax, "JSON object"),
            (USER, json!({ "userName": "a", "nickname2": "x" }), InvalidSyntax, "'nickname2'"),
            (
                USER,
                json!({ "userName": "a", "name.givenName": "x" }),
                InvalidSyntax,
                "'name.givenName'",
            ),
            (
                USER,
                json!({ "userName": "a", "name": { "nick": "x" } }),
                InvalidSyntax,
                "'name.nick'",
            ),
            (
                USER,
                json!({ "userName": "a", "emails": [{ "value": "a", "label": "x" }] }),
                InvalidSyntax,
                "'emails.label'",
            ),
            (
                USER,
                json!({ "userName": "a", "urn:okta:custom:User": { "x": 1 } }),
                InvalidSyntax,
                "urn:okta:custom:User",
            ),
            (GROUP, json!({ "displayName": "g", ent: { "department": "x" } }), InvalidSyntax, ent),
            (USER, json!({ "userName": "a", ent: "Eng" }), InvalidSyntax, ent),
            (USER, json!({ "userName": "a", ent: { "badge": "1" } }), InvalidSyntax, "badge"),
            (USER, json!({ "userName": "a", "UserName": "b" }), InvalidSyntax, "more than once"),
            (USER, json!({}), InvalidValue, "'userName'"),
            (USER, json!({ "userName": "   " }), InvalidValue, "'userName'"),
            (USER, json!({ "userName": null, "displayName": "x" }), InvalidValue, "'userName'"),
            (GROUP, json!({ "members": [] }), InvalidValue, "'displayName'"),
            (GROUP, json!({ "displayName": "" }), InvalidValue, "'displayName'"),
            (USER, json!({ "userName": 42 }), InvalidValue, "'userName' must be a string"),
            (
                USER,
                json!({ "userName": "a", "active": "yes" }),
                InvalidValue,
                "'active' must be a boolean",
            ),
            (USER, json!({ "userName": "a", "active": 1 }), InvalidValue, "'active'"),
            (
                USER,
                json!({ "userName": "a", "name": "Alice" }),
                InvalidValue,
                "'name' must be an object",
            ),
            (USER, json!({ "userName": "a", "displayName": ["x"] }), InvalidValue, "single-valued"),
            (USER, json!({ "userName": "a", "emails": ["a@x.com"] }), InvalidValue, "'emails'"),
            (
                USER,
                json!({ "userName": "a", "emails": [[{ "value": "a" }]] }),
                InvalidValue,
                "'emails'",
            ),
            (
                USER,
                json!({ "userName": "a", "emails": [{ "value": "a", "primary": true }, { "value": "b", "primary": "True" }] }),
                InvalidValue,
                "primary",
            ),
            (
                USER,
                json!({ "userName": "a", "emails": [{ "value": "a", "primary": "maybe" }] }),
                InvalidValue,
                "'emails.primary'",
            ),
            (
                USER,
                json!({ "userName": "a", "x509Certificates": [{ "value": "not base64!" }] }),
                InvalidValue,
                "base64",
            ),
            (USER, json!({ "userName": "a", ent: { "manager": 7 } }), InvalidValue, "manager"),
            (
                USER,
                json!({ "userName": "a", ent: { "department": false } }),
                InvalidValue,
                "department",
            ),
            (
                GROUP,
                json!({ "displayName": "g", "members": [{ "value": 5 }] }),
                InvalidValue,
                "'members.value'",
            ),
        ];
        for (kind, body, scim_type, needle) in cases {
            let err = normalize_resource(kind, &body).expect_err(&body.to_string());
            assert_eq!(err.status, 400, "{body}");
            assert_eq!(err.scim_type, Some(scim_type), "{body}: {err}");
            assert!(err.detail.contains(needle), "{body}: {err} lacks {needle}");
        }
    }

    #[test]
    fn scalar_types_are_checked() {
        static INTEGER: AttributeDef = AttributeDef::new("count", AttrType::Integer, "");
        static DECIMAL: AttributeDef = AttributeDef::new("ratio", AttrType::Decimal, "");
        static DATE_TIME: AttributeDef = AttributeDef::new("hired", AttrType::DateTime, "");
        let cases: &[(&'static AttributeDef, Value, bool)] = &[
            (&INTEGER, json!(3), true),
            (&INTEGER, json!(-3), true),
            (&INTEGER, json!(3.5), false),
            (&INTEGER, json!("3"), false),
            (&DECIMAL, json!(3.5), true),
            (&DECIMAL, json!(3), true),
            (&DECIMAL, json!("3.5"), false),
            (&DATE_TIME, json!("2008-01-23T04:56:22Z"), true),
            (&DATE_TIME, json!("2008-01-23T04:56:22.123+05:30"), true),
            (&DATE_TIME, json!("2008-01-23"), false),
            (&DATE_TIME, json!(1_200_000_000), false),
        ];
        for (def, value, ok) in cases {
            let result = normalize_value(def, value, def.name);
            assert_eq!(result.is_ok(), *ok, "{} {value}", def.name);
            if let Err(err) = result {
                assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
            }
        }
    }

    #[test]
    fn rfc3339_validation() {
        let cases = [
            ("2008-01-23T04:56:22Z", true),
            ("2008-01-23t04:56:22z", true),
            ("2024-02-29T23:59:60Z", true),
            ("2008-01-23T04:56:22.5-08:00", true),
            ("2008-01-23T04:56:22.123456789Z", true),
            ("2023-02-29T00:00:00Z", false),
            ("1900-02-29T00:00:00Z", false),
            ("2000-02-29T00:00:00Z", true),
            ("2008-13-01T00:00:00Z", false),
            ("2008-04-31T00:00:00Z", false),
            ("2008-01-23T24:00:00Z", false),
            ("2008-01-23T04:56:22", false),
            ("2008-01-23 04:56:22Z", false),
            ("2008-01-23T04:56:22.Z", false),
            ("2008-01-23T04:56:22+0800", false),
            ("2008-01-23T04:56:22+08:00x", false),
            ("2008-1-23T04:56:22Z", false),
            ("", false),
            ("２００８-01-23T04:56:22Z", false),
        ];
        for (input, ok) in cases {
            assert_eq!(is_rfc3339(input), ok, "{input}");
        }
    }

    #[test]
    fn base64_validation() {
        let valid = ["TWFu", "TWE=", "TQ==", "TQ", "TWFu\nTWFu", "a-_b", "", "TW E="];
        assert!(valid.iter().all(|s| is_base64(s)), "{valid:?}");
        for invalid in ["T", "TQ===", "T=Q=", "TWE*"] {
            assert!(!is_base64(invalid), "{invalid}");
        }
    }

    fn stored_user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "2819c223",
            "externalId": "ext-1",
            "meta": {
                "resourceType": "User",
                "created": "2024-01-01T00:00:00Z",
                "lastModified": "2024-01-02T00:00:00Z",
                "location": "https://scim.example.com/scim/v2/Users/2819c223",
                "version": "W/\"2\""
            },
            "userName": "bjensen",
            "name": { "familyName": "Jensen", "givenName": "Barbara" },
            "displayName": "Babs",
            "active": true,
            "password": "must never leak",
            "emails": [
                { "value": "bjensen@example.com", "type": "work", "primary": true },
                { "value": "babs@example.org", "type": "home" }
            ],
            "groups": [{ "value": "g1", "$ref": "https://x/Groups/g1", "display": "Eng" }],
            ENTERPRISE_USER_SCHEMA: {
                "employeeNumber": "42",
                "department": "Eng",
                "manager": { "value": "m1", "displayName": "Boss" }
            }
        })
    }

    #[test]
    fn projection_key_sets() {
        let ent = ENTERPRISE_USER_SCHEMA;
        let everything = [
            "schemas",
            "id",
            "externalId",
            "meta",
            "userName",
            "name",
            "displayName",
            "active",
            "emails",
            "groups",
            ent,
        ];
        let without = |gone: &[&str]| -> Vec<&str> {
            everything.iter().copied().filter(|k| !gone.contains(k)).collect()
        };
        let core_user_name = format!("{USER_SCHEMA}:userName");
        let upper_dept = format!("{}:department", ent.to_uppercase());
        let all_ent = format!("{ent}:employeeNumber,{ent}:department,{ent}:manager");
        let cases: Vec<(Option<&str>, Option<&str>, Vec<&str>)> = vec![
            (None, None, without(&[])),
            (Some(""), None, without(&[])),
            (None, Some(" , "), without(&[])),
            (Some("userName"), None, vec!["schemas", "id", "userName"]),
            (Some("USERNAME, Name.GivenName"), None, vec!["schemas", "id", "userName", "name"]),
            (Some("id"), None, vec!["schemas", "id"]),
            (Some("password"), None, vec!["schemas", "id"]),
            (Some("nonsense,emails.bogus,urn:x:y:z"), None, vec!["schemas", "id"]),
            (Some(&core_user_name), None, vec!["schemas", "id", "userName"]),
            (Some(ent), None, vec!["schemas", "id", ent]),
            (Some(&upper_dept), None, vec!["schemas", "id", ent]),
            (Some("meta.lastModified,groups"), None, vec!["schemas", "id", "meta", "groups"]),
            (None, Some("emails,groups"), without(&["emails", "groups"])),
            (None, Some("id,schemas,password,bogus"), without(&[])),
            (None, Some(ent), without(&[ent])),
            (None, Some(&all_ent), without(&[ent])),
            (None, Some("meta,externalId"), without(&["meta", "externalId"])),
            (None, Some("name.givenName"), without(&[])),
        ];
        for (attributes, excluded, expected) in cases {
            let projection = parse(USER, attributes, excluded).unwrap();
            let projected = projection.apply(stored_user());
            assert_eq!(
                keys(&projected),
                expected,
                "attributes={attributes:?} excluded={excluded:?}"
            );
        }
    }

    #[test]
    fn projection_values() {
        let ent = ENTERPRISE_USER_SCHEMA;
        let dept = format!("{ent}:department");
        let manager_value = format!("{ent}:manager.value");
        let manager = format!("{ent}:manager");
        let cases: Vec<(Option<&str>, Option<&str>, &str, Value)> = vec![
            (Some("name.givenName"), None, "name", json!({ "givenName": "Barbara" })),
            (None, Some("name.givenName"), "name", json!({ "familyName": "Jensen" })),
            (
                Some("emails.value"),
                None,
                "emails",
                json!([{ "value": "bjensen@example.com" }, { "value": "babs@example.org" }]),
            ),
            (
                None,
                Some("emails.type,emails.primary"),
                "emails",
                json!([
                { "value": "bjensen@example.com" }, { "value": "babs@example.org" }]),
            ),
            (
                Some("meta.lastModified"),
                None,
                "meta",
                json!({ "lastModified": "2024-01-02T00:00:00Z" }),
            ),
            (
                None,
                Some("meta.version,meta.location"),
                "meta",
                json!({
                "resourceType": "User", "created": "2024-01-01T00:00:00Z",
                "lastModified": "2024-01-02T00:00:00Z" }),
            ),
            (Some(&dept), None, ent, json!({ "department": "Eng" })),
            (Some(&manager_value), None, ent, json!({ "manager": { "value": "m1" } })),
            (None, Some(&manager), ent, json!({ "employeeNumber": "42", "department": "Eng" })),
            (Some(ent), None, ent, stored_user()[ent].clone()),
            (Some("emails"), None, "emails", stored_user()["emails"].clone()),
        ];
        for (attributes, excluded, key, expected) in cases {
            let projected = parse(USER, attributes, excluded).unwrap().apply(stored_user());
            assert_eq!(projected[key], expected, "attributes={attributes:?} excluded={excluded:?}");
        }
    }

    #[test]
    fn password_is_never_returned() {
        for (attributes, excluded) in [
            (None, None),
            (Some("password"), None),
            (Some("userName,PASSWORD"), None),
            (None, Some("userName")),
        ] {
            let projection = parse(USER, attributes, excluded).unwrap();
            assert!(projection.apply(stored_user()).get("password").is_none());
            assert!(projection.excludes("password"));
        }
    }

    #[test]
    fn both_parameters_is_a_bad_request() {
        let err = parse(USER, Some("userName"), Some("emails")).unwrap_err();
        assert_eq!((err.status, err.scim_type), (400, None));
    }

    #[test]
    fn group_members_exclusion() {
        let group = json!({
            "schemas": [GROUP_SCHEMA],
            "id": "g1",
            "displayName": "Eng",
            "members": [{ "value": "u1", "display": "Alice", "type": "User" }],
            "meta": { "resourceType": "Group" }
        });
        let qualified = format!("{GROUP_SCHEMA}:members");
        /// attributes, excludedAttributes, whether `members` is excluded, keys returned.
        type Case<'a> = (Option<&'a str>, Option<&'a str>, bool, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            (None, None, false, vec!["schemas", "id", "displayName", "members", "meta"]),
            (None, Some("members"), true, vec!["schemas", "id", "displayName", "meta"]),
            (None, Some("MEMBERS"), true, vec!["schemas", "id", "displayName", "meta"]),
            (None, Some(&qualified), true, vec!["schemas", "id", "displayName", "meta"]),
            (
                None,
                Some("members.display"),
                false,
                vec!["schemas", "id", "displayName", "members", "meta"],
            ),
            (Some("displayName"), None, true, vec!["schemas", "id", "displayName"]),
            (Some("members.value"), None, false, vec!["schemas", "id", "members"]),
            (Some("members"), None, false, vec!["schemas", "id", "members"]),
        ];
        for (attributes, excluded, members_excluded, expected) in cases {
            let projection = parse(GROUP, attributes, excluded).unwrap();
            assert_eq!(
                projection.excludes("members"),
                members_excluded,
                "{attributes:?} {excluded:?}"
            );
            assert!(!projection.excludes("id"));
            assert_eq!(
                keys(&projection.apply(group.clone())),
                expected,
                "{attributes:?} {excluded:?}"
            );
        }
        let only_values = parse(GROUP, Some("members.value"), None).unwrap().apply(group.clone());
        assert_eq!(only_values["members"], json!([{ "value": "u1" }]));
        // Stored empty lists survive the default projection untouched.
        let empty =
            json!({ "schemas": [GROUP_SCHEMA], "id": "g2", "displayName": "E", "members": [] });
        assert_eq!(Projection::default_for(schemas(GROUP)).apply(empty.clone()), empty);
    }

    #[test]
    fn excludes_answers_for_extensions_and_unknown_names() {
        let ent = ENTERPRISE_USER_SCHEMA;
        let dept = format!("{ent}:department");
        let cases: Vec<(Option<&str>, Option<&str>, &str, bool)> = vec![
            (None, None, ent, false),
            (None, None, "groups", false),
            (None, None, "bogus", false),
            (Some("userName"), None, ent, true),
            (Some("userName"), None, "groups", true),
            (Some("userName"), None, "bogus", true),
            (Some("userName"), None, "meta", true),
            (Some(&dept), None, ent, false),
            (Some(&dept), None, &dept, false),
            (Some(&dept), None, "userName", true),
            (Some("name.familyName"), None, "name", false),
            (Some("name.familyName"), None, "name.givenName", false),
            (None, Some(ent), ent, true),
            (None, Some(&dept), ent, false),
            (None, Some(&dept), &dept, true),
            (None, Some("groups"), "GROUPS", true),
            (None, Some("groups"), "emails", false),
            (None, Some("id"), "id", false),
            (Some("userName"), None, "schemas", false),
            (None, Some("schemas"), "schemas", false),
        ];
        for (attributes, excluded, name, expected) in cases {
            let projection = parse(USER, attributes, excluded).unwrap();
            assert_eq!(projection.excludes(name), expected, "{attributes:?} {excluded:?} {name}");
        }
    }

    #[test]
    fn normalised_resources_project_cleanly() {
        // The two halves compose: what we store, projected by default, is what we stored.
        let body = json!({ "userName": "a", "password": "p", "emails": { "value": "a@x.com" } });
        let stored = normalize_resource(USER, &body).unwrap();
        assert_eq!(Projection::default_for(schemas(USER)).apply(stored.clone()), stored);
    }

    #[test]
    fn multi_valued_attributes_are_capped_but_stored_lists_may_keep_their_size() {
        let emails =
            |n: usize| -> Value { (0..n).map(|i| json!({"value": format!("{i}@x")})).collect() };
        let ext = "urn:acme:params:scim:schemas:extension:acme:2.0:User";
        assert!(check_multi_values(&json!({"emails": emails(3)}), None, 3).is_ok());
        let err = check_multi_values(&json!({"emails": emails(4)}), None, 3).unwrap_err();
        assert!(err.detail.contains("'emails'"), "{}", err.detail);
        let err = check_multi_values(&json!({ext: {"tags": [1, 2, 3, 4]}}), None, 3).unwrap_err();
        assert!(err.detail.contains(&format!("'{ext}:tags'")), "{}", err.detail);
        // Stored before the cap: an update may keep the list as it is, or shrink it, not grow it.
        let stored = json!({"emails": emails(5)});
        assert!(check_multi_values(&json!({"emails": emails(5)}), Some(&stored), 3).is_ok());
        assert!(check_multi_values(&json!({"emails": emails(4)}), Some(&stored), 3).is_ok());
        assert!(check_multi_values(&json!({"emails": emails(6)}), Some(&stored), 3).is_err());
    }
}
