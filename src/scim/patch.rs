//! RFC 7644 §3.5.2 PATCH: validation of the PatchOp document and an engine applying it to resource
//! JSON, tolerant of the Okta and Microsoft Entra ID dialects.

use serde_json::{Map, Value};

use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::eval::{get_ci, is_present, matches_element};
use crate::scim::filter::parser::{ErrorKind, parse_attr_path_str};
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Expr, ValueFilter, is_core_urn};
use crate::scim::hints::AttributeHints;
use crate::scim::path::{PatchPath, parse_patch_path};

pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations accepted in one request; bounds the work a single PATCH can cause.
pub const MAX_OPERATIONS: usize = 1000;

/// Keys of a path-less value that are never written: server-owned, and Okta echoes them back.
const IGNORED_KEYS: &[&str] = &["id", "meta", "schemas"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

impl PatchOpKind {
    fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Replace => "replace",
            PatchOpKind::Remove => "remove",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Validates the request document: `schemas` contains PATCH_OP_URN, `Operations` a non-empty array
/// (at most MAX_OPERATIONS = 1000), `op` case-insensitive ("add", "Add", "REPLACE"), path parsed
/// (invalid_path), add/replace without `value` → invalid_value, remove without path → no_target.
/// Accept `Operations` and `operations` key spellings.
pub fn parse_patch_request(body: &Value) -> ScimResult<Vec<PatchOperation>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("PATCH body must be a JSON object"))?;
    let has_urn = get_ci(obj, "schemas").and_then(Value::as_array).is_some_and(|schemas| {
        schemas.iter().filter_map(Value::as_str).any(|s| s.eq_ignore_ascii_case(PATCH_OP_URN))
    });
    if !has_urn {
        return Err(ScimError::invalid_syntax(format!(
            "'schemas' must be an array containing \"{PATCH_OP_URN}\""
        )));
    }
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) => ops,
        Some(_) => return Err(ScimError::invalid_syntax("'Operations' must be an array")),
        None => return Err(ScimError::invalid_syntax("missing 'Operations'")),
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("'Operations' must not be empty"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "{} operations exceed the maximum of {MAX_OPERATIONS} per request",
            ops.len()
        )));
    }
    ops.iter().enumerate().map(|(i, op)| parse_operation(i, op)).collect()
}

fn parse_operation(i: usize, op: &Value) -> ScimResult<PatchOperation> {
    let obj = op
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax(format!("operation {i} must be an object")))?;
    let name = get_ci(obj, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax(format!("operation {i} has no 'op' string")))?;
    let kind = [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            ScimError::invalid_syntax(format!(
                "operation {i} has unknown op {}; expected add, replace or remove",
                short(&Value::String(name.to_owned()))
            ))
        })?;
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        // Some clients send "" for "no path"; treat it as absent rather than as a syntax error.
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            parse_patch_path(s)
                .map_err(|e| ScimError::invalid_path(format!("operation {i}: {}", e.detail)))?,
        ),
        Some(_) => {
            return Err(ScimError::invalid_path(format!("operation {i}: 'path' must be a string")));
        }
    };
    let value = get_ci(obj, "value").cloned();
    match kind {
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => {
            Err(ScimError::invalid_value(format!(
                "operation {i} ({}) requires a 'value'",
                kind.as_str()
            )))
        }
        PatchOpKind::Remove if path.is_none() => {
            Err(ScimError::no_target(format!("operation {i} (remove) requires a 'path'")))
        }
        _ => Ok(PatchOperation { op: kind, path, value }),
    }
}

/// Applies all operations to `resource` in order; on the first error returns it (caller discards
/// the copy, so the change is all-or-nothing).
pub fn apply_patch(
    resource: &mut Value,
    ops: &[PatchOperation],
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    let res = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::internal("resource to patch is not a JSON object"))?;
    ops.iter().try_for_each(|op| apply_operation(res, op, hints))
}

/// How add and replace differ: only in what happens to an existing multi-valued attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetMode {
    /// Append to multi-valued attributes.
    Add,
    /// Replace multi-valued attributes wholesale.
    Replace,
}

type Object = Map<String, Value>;

fn apply_operation(
    res: &mut Object,
    op: &PatchOperation,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    let mode = match op.op {
        PatchOpKind::Add => SetMode::Add,
        PatchOpKind::Replace => SetMode::Replace,
        PatchOpKind::Remove => {
            let path =
                op.path.as_ref().ok_or_else(|| ScimError::no_target("remove requires a 'path'"))?;
            return remove_path(res, path, op.value.as_ref(), hints);
        }
    };
    let value = op.value.clone().ok_or_else(|| {
        ScimError::invalid_value(format!("{} requires a 'value'", op.op.as_str()))
    })?;
    match &op.path {
        None => set_without_path(res, mode, value, hints),
        Some(path) => set_path(res, mode, path, value, hints),
    }
}

// ---------------------------------------------------------------------------------------------
// Path-less add/replace (RFC 7644 §3.5.2.1 / §3.5.2.3)

fn set_without_path(
    res: &mut Object,
    mode: SetMode,
    value: Value,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    let Value::Object(obj) = value else {
        return Err(ScimError::invalid_value(
            "an add or replace without a 'path' needs an object 'value'",
        ));
    };
    for (key, v) in obj {
        if IGNORED_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
            continue;
        }
        if is_schema_urn(res, &key) {
            set_schema_object(res, mode, &key, v, hints)?;
            continue;
        }
        let path = key_path(&key)?;
        // Clients (Okta) echo read-only attributes back; silently keep the server's values.
        if hints.is_read_only(&path) {
            continue;
        }
        set_attr(res, mode, &path, v, hints)?;
    }
    Ok(())
}

/// Applies `{"<attr>": value, ...}` addressed to a whole schema: merges into the extension object
/// (or the top level for a core schema); `null` drops the extension.
fn set_schema_object(
    res: &mut Object,
    mode: SetMode,
    schema: &str,
    value: Value,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    let urn = (!is_core_urn(schema)).then(|| schema.to_owned());
    match value {
        Value::Null => {
            if let Some(urn) = &urn {
                remove_extension(res, urn);
            }
            Ok(())
        }
        Value::Object(obj) => {
            for (key, v) in obj {
                // As in path-less values: `schemas` (which some clients repeat inside an
                // extension object), `id` and `meta` are not attributes to set.
                if IGNORED_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
                    continue;
                }
                let mut path = key_path(&key)?;
                if path.urn.is_some() {
                    return Err(ScimError::invalid_value(format!(
                        "attribute '{key}' inside schema '{schema}' must not carry a URN"
                    )));
                }
                path.urn.clone_from(&urn);
                if hints.is_read_only(&path) {
                    continue;
                }
                set_attr(res, mode, &path, v, hints)?;
            }
            Ok(())
        }
        _ => {
            Err(ScimError::invalid_value(format!("value for schema '{schema}' must be an object")))
        }
    }
}

/// Parses a key of a path-less value (`title`, `name.givenName`, `urn:…:User:department`).
fn key_path(key: &str) -> ScimResult<AttrPath> {
    parse_attr_path_str(key, ErrorKind::Path).map_err(|e| {
        ScimError::invalid_value(format!("invalid attribute name in 'value': {}", e.detail))
    })
}

/// True when `s` names a whole schema (`urn:…:enterprise:2.0:User`) rather than an attribute in
/// one (`urn:…:enterprise:2.0:User:department`). The registry is not available here, so we go by
/// the schemas the resource declares or uses, then by the universal `…:<version>:<Type>` shape.
fn is_schema_urn(res: &Object, s: &str) -> bool {
    if !is_urn(s) {
        return false;
    }
    let declared = get_ci(res, "schemas")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let used = res.iter().filter(|(k, v)| v.is_object() && is_urn(k)).map(|(k, _)| k.as_str());
    let known: Vec<&str> = declared.chain(used).collect();
    if known.iter().any(|d| d.eq_ignore_ascii_case(s)) {
        return true;
    }
    // `<known schema>:<attr>` is an attribute of that schema, whatever its shape.
    let extends = |d: &str| {
        s.get(..d.len()).is_some_and(|p| p.eq_ignore_ascii_case(d))
            && s.as_bytes().get(d.len()) == Some(&b':')
    };
    if known.iter().any(|d| extends(d)) {
        return false;
    }
    let segments: Vec<&str> = s.split(':').collect();
    segments.len() >= 4 && segments.get(segments.len() - 2).is_some_and(|seg| is_version(seg))
}

fn is_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

fn is_version(seg: &str) -> bool {
    seg.starts_with(|c: char| c.is_ascii_digit())
        && seg.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The schema URN a path such as `urn:…:enterprise:2.0:User` names as a whole, if it does.
fn schema_of_path(res: &Object, path: &PatchPath) -> Option<String> {
    if path.filter.is_some() || path.attr.sub.is_some() {
        return None;
    }
    let urn = path.attr.urn.as_deref()?;
    let candidate = format!("{urn}:{}", path.attr.name);
    is_schema_urn(res, &candidate).then_some(candidate)
}

// ---------------------------------------------------------------------------------------------
// add/replace with a path

fn set_path(
    res: &mut Object,
    mode: SetMode,
    path: &PatchPath,
    value: Value,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    if let Some(schema) = schema_of_path(res, path) {
        return set_schema_object(res, mode, &schema, value, hints);
    }
    check_writable(path, hints)?;
    match &path.filter {
        None => set_attr(res, mode, &path.attr, value, hints),
        Some(filter) => set_filtered(res, path, filter, value, hints),
    }
}

fn check_writable(path: &PatchPath, hints: &dyn AttributeHints) -> ScimResult<()> {
    let target = path.target();
    if hints.is_read_only(&path.attr) || hints.is_read_only(&target) {
        return Err(ScimError::mutability(format!("attribute '{target}' is read-only")));
    }
    Ok(())
}

/// add/replace of `attr` or `attr.sub` (no value filter).
fn set_attr(
    res: &mut Object,
    mode: SetMode,
    path: &AttrPath,
    value: Value,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    let value = normalize(path, value, hints)?;
    check_immutable(res, path, Some(&value), hints)?;
    if value.is_null() {
        // RFC 7643 §2.5: assigning null unassigns.
        return remove_attr(res, path, None);
    }
    let container = container_or_create(res, path)?;
    match &path.sub {
        None => set_whole(container, mode, path, value, hints),
        Some(sub) => set_sub(container, path, sub, value, hints),
    }
}

fn set_whole(
    container: &mut Object,
    mode: SetMode,
    path: &AttrPath,
    value: Value,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    let key = find_key(container, &path.name).unwrap_or_else(|| path.name.clone());
    let stored_array = matches!(container.get(&key), Some(Value::Array(_)));
    if hints.is_multi_valued(path) || stored_array {
        return set_multi(container, key, mode, path, value);
    }
    match value {
        Value::Array(_) => Err(ScimError::invalid_value(format!(
            "attribute '{path}' is single-valued and cannot take an array"
        ))),
        Value::Object(sub_values) => {
            check_sub_values(path, &sub_values)?;
            match container.get_mut(&key) {
                // RFC 7644 §3.5.2.3: sub-attributes not mentioned are left unchanged.
                Some(Value::Object(existing)) => {
                    merge_into(existing, sub_values);
                    if existing.is_empty() {
                        container.shift_remove(&key);
                    }
                    Ok(())
                }
                Some(v) if !v.is_null() => Err(ScimError::invalid_value(format!(
                    "attribute '{path}' is simple and cannot take an object"
                ))),
                _ => {
                    let fresh: Object =
                        sub_values.into_iter().filter(|(_, v)| !v.is_null()).collect();
                    if !fresh.is_empty() {
                        container.insert(key, Value::Object(fresh));
                    }
                    Ok(())
                }
            }
        }
        simple => {
            if matches!(container.get(&key), Some(Value::Object(_))) {
                return Err(ScimError::invalid_value(format!(
                    "attribute '{path}' is complex and needs an object of sub-attributes"
                )));
            }
            container.insert(key, simple);
            Ok(())
        }
    }
}

fn set_multi(
    container: &mut Object,
    key: String,
    mode: SetMode,
    path: &AttrPath,
    value: Value,
) -> ScimResult<()> {
    let items: Vec<Value> = match value {
        Value::Array(items) => items,
        single => vec![single],
    };
    let mut fresh = Vec::with_capacity(items.len());
    for item in items {
        match &item {
            Value::Null => continue,
            Value::Array(_) => {
                return Err(ScimError::invalid_value(format!(
                    "elements of '{path}' must not be arrays"
                )));
            }
            Value::Object(o) => check_sub_values(path, o)?,
            _ => {}
        }
        fresh.push(item);
    }
    let slot = container.entry(key.clone()).or_insert(Value::Null);
    if mode == SetMode::Replace || slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    let Value::Array(arr) = slot else {
        return Err(ScimError::invalid_value(format!(
            "attribute '{path}' holds a single value; cannot add to it"
        )));
    };
    let mut touched = Vec::new();
    for item in fresh {
        if let Some(i) = arr.iter().position(|e| *e == item) {
            // Exact duplicate: nothing to add, but it still counts as "most recently set".
            touched.push(i);
        } else if let Some(i) = same_value_position(arr, &item) {
            // Same `value` (and `type`): update that element instead of duplicating it, so
            // re-adding a group member with a new `display` does not create a second membership.
            if let (Some(Value::Object(e)), Value::Object(new)) = (arr.get_mut(i), item) {
                merge_into(e, new);
            }
            touched.push(i);
        } else {
            arr.push(item);
            touched.push(arr.len() - 1);
        }
    }
    fix_primary(arr, &touched);
    if arr.is_empty() {
        container.shift_remove(&key);
    }
    Ok(())
}

/// Index of an element with the same `value` and `type` as the object `item`.
fn same_value_position(arr: &[Value], item: &Value) -> Option<usize> {
    let new = item.as_object()?;
    let value = get_ci(new, "value")?;
    let kind = get_ci(new, "type");
    arr.iter().position(|e| {
        e.as_object()
            .is_some_and(|o| get_ci(o, "value") == Some(value) && get_ci(o, "type") == kind)
    })
}

fn set_sub(
    container: &mut Object,
    path: &AttrPath,
    sub: &str,
    value: Value,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    if value.is_object() || value.is_array() {
        return Err(ScimError::invalid_value(format!(
            "sub-attribute '{path}' must be a simple value"
        )));
    }
    let parent = path.parent();
    let key = find_key(container, &path.name);
    let stored_array = matches!(key.as_ref().and_then(|k| container.get(k)), Some(Value::Array(_)));
    if hints.is_multi_valued(&parent) || stored_array {
        // No filter: the sub-attribute is set on every element (there must be some).
        let Some(Value::Array(arr)) = key.as_ref().and_then(|k| container.get_mut(k)) else {
            return Err(ScimError::no_target(format!(
                "'{parent}' has no values to set '{sub}' on"
            )));
        };
        if arr.is_empty() {
            return Err(ScimError::no_target(format!(
                "'{parent}' has no values to set '{sub}' on"
            )));
        }
        for e in arr.iter_mut() {
            let Value::Object(o) = e else {
                return Err(ScimError::invalid_value(format!(
                    "elements of '{parent}' are not complex; cannot set '{sub}'"
                )));
            };
            set_ci(o, sub, value.clone());
        }
        let all: Vec<usize> = (0..arr.len()).collect();
        fix_primary(arr, &all);
        return Ok(());
    }
    let slot = container.entry(key.unwrap_or_else(|| path.name.clone())).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(o) => {
            set_ci(o, sub, value);
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!(
            "attribute '{parent}' is simple; it has no sub-attribute '{sub}'"
        ))),
    }
}

/// add/replace through a value filter: `emails[type eq "work"]` or `emails[type eq "work"].value`.
fn set_filtered(
    res: &mut Object,
    path: &PatchPath,
    filter: &ValueFilter,
    value: Value,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    let attr = &path.attr;
    let target = path.target();
    let value = normalize(&target, value, hints)?;
    match (&path.sub_attr, &value) {
        (_, Value::Null) => return remove_path(res, path, None, hints),
        (Some(_), Value::Object(_) | Value::Array(_)) => {
            return Err(ScimError::invalid_value(format!(
                "sub-attribute '{target}' must be a simple value"
            )));
        }
        (Some(_), _) => {}
        (None, Value::Object(o)) => check_sub_values(attr, o)?,
        (None, _) => {
            return Err(ScimError::invalid_value(format!(
                "'{path}' selects complex values; the value must be an object of sub-attributes"
            )));
        }
    }
    check_immutable_filtered(res, path, hints)?;
    let container = container_or_create(res, attr)?;
    let key = find_key(container, &attr.name).unwrap_or_else(|| attr.name.clone());
    let slot = container.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    let Value::Array(arr) = slot else {
        return Err(ScimError::invalid_path(format!(
            "'{attr}' is not multi-valued; value filters apply only to multi-valued attributes"
        )));
    };
    let mut touched: Vec<usize> = arr
        .iter()
        .enumerate()
        .filter(|(_, e)| matches_element(filter, e, attr, hints))
        .map(|(i, _)| i)
        .collect();
    if touched.is_empty() {
        // Entra sends `emails[type eq "work"].value` for users with no work email yet and expects
        // the element to be created; only a pure `eq` conjunction says what to create.
        let Some(seed) = eq_seed(filter) else {
            return Err(ScimError::no_target(format!(
                "no value of '{attr}' matches the filter [{filter}]"
            )));
        };
        arr.push(Value::Object(seed));
        touched.push(arr.len() - 1);
    }
    for &i in &touched {
        let Some(Value::Object(element)) = arr.get_mut(i) else {
            return Err(ScimError::invalid_value(format!("elements of '{attr}' are not complex")));
        };
        match (&path.sub_attr, &value) {
            (Some(sub), v) => set_ci(element, sub, v.clone()),
            (None, Value::Object(sub_values)) => merge_into(element, sub_values.clone()),
            (None, _) => {}
        }
    }
    fix_primary(arr, &touched);
    Ok(())
}

/// The attributes a filter made only of `eq` comparisons joined by `and` pins down.
fn eq_seed(filter: &ValueFilter) -> Option<Object> {
    match filter {
        Expr::Compare { path, op: CompareOp::Eq, value }
            if path.urn.is_none() && path.sub.is_none() && *value != CompValue::Null =>
        {
            let mut seed = Map::new();
            seed.insert(path.name.clone(), value.to_json());
            Some(seed)
        }
        Expr::And(l, r) => {
            let mut seed = eq_seed(l)?;
            for (k, v) in eq_seed(r)? {
                match find_key(&seed, &k) {
                    Some(existing) if seed.get(&existing) != Some(&v) => return None,
                    Some(_) => {}
                    None => {
                        seed.insert(k, v);
                    }
                }
            }
            Some(seed)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// remove (RFC 7644 §3.5.2.2)

fn remove_path(
    res: &mut Object,
    path: &PatchPath,
    value: Option<&Value>,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    if let Some(schema) = schema_of_path(res, path) {
        if is_core_urn(&schema) {
            return Err(ScimError::invalid_path(format!(
                "the core schema '{schema}' cannot be removed"
            )));
        }
        remove_extension(res, &schema);
        return Ok(());
    }
    check_writable(path, hints)?;
    match &path.filter {
        None => {
            check_immutable(res, &path.attr, None, hints)?;
            remove_attr(res, &path.attr, value)
        }
        Some(filter) => {
            check_immutable_filtered(res, path, hints)?;
            remove_filtered(res, path, filter, hints)
        }
    }
}

/// Removes `attr` or `attr.sub`; with `listed` values (Entra's `members` removal) only those
/// elements of a multi-valued attribute go. Absent targets are not an error.
fn remove_attr(res: &mut Object, path: &AttrPath, listed: Option<&Value>) -> ScimResult<()> {
    if let Some(container) = existing_container(res, path)?
        && let Some(key) = find_key(container, &path.name)
    {
        let listed = listed.filter(|v| !v.is_null());
        match (&path.sub, listed, container.get_mut(&key)) {
            (None, Some(listed), Some(Value::Array(arr))) => {
                let listed: Vec<&Value> = match listed {
                    Value::Array(items) => items.iter().collect(),
                    single => vec![single],
                };
                arr.retain(|e| !listed.iter().any(|l| same_element(e, l)));
                if arr.is_empty() {
                    container.shift_remove(&key);
                }
            }
            (None, _, _) => {
                container.shift_remove(&key);
            }
            (Some(sub), _, Some(Value::Array(arr))) => {
                for e in arr.iter_mut() {
                    if let Value::Object(o) = e {
                        remove_ci(o, sub);
                    }
                }
            }
            (Some(sub), _, Some(Value::Object(o))) => {
                remove_ci(o, sub);
                if o.is_empty() {
                    container.shift_remove(&key);
                }
            }
            (Some(_), _, _) => {}
        }
    }
    prune_extension(res, path);
    Ok(())
}

/// Whether stored element `e` is the one a removal value names: by `value` when given, else whole.
fn same_element(e: &Value, listed: &Value) -> bool {
    match (e, listed) {
        (Value::Object(stored), Value::Object(named)) => match get_ci(named, "value") {
            Some(v) => get_ci(stored, "value") == Some(v),
            None => stored == named,
        },
        _ => e == listed,
    }
}

fn remove_filtered(
    res: &mut Object,
    path: &PatchPath,
    filter: &ValueFilter,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    let attr = &path.attr;
    if let Some(container) = existing_container(res, attr)?
        && let Some(key) = find_key(container, &attr.name)
    {
        match container.get_mut(&key) {
            Some(Value::Array(arr)) => {
                match &path.sub_attr {
                    None => arr.retain(|e| !matches_element(filter, e, attr, hints)),
                    Some(sub) => {
                        for e in arr.iter_mut() {
                            if matches_element(filter, e, attr, hints)
                                && let Value::Object(o) = e
                            {
                                remove_ci(o, sub);
                            }
                        }
                    }
                }
                if arr.is_empty() {
                    container.shift_remove(&key);
                }
            }
            None | Some(Value::Null) => {}
            Some(_) => {
                return Err(ScimError::invalid_path(format!(
                    "'{attr}' is not multi-valued; value filters apply only to multi-valued attributes"
                )));
            }
        }
    }
    prune_extension(res, attr);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Value normalisation (Entra dialect)

/// Brings a client value into canonical shape before it is stored: Entra's `"True"`/`"False"`
/// become booleans and Entra's bare-string `manager` becomes `{"value": id}`.
fn normalize(path: &AttrPath, value: Value, hints: &dyn AttributeHints) -> ScimResult<Value> {
    let value = match value {
        Value::String(id) if path.sub.is_none() && path.name.eq_ignore_ascii_case("manager") => {
            let id = id.trim();
            if id.is_empty() {
                Value::Null
            } else {
                let mut m = Map::new();
                m.insert("value".to_owned(), Value::String(id.to_owned()));
                Value::Object(m)
            }
        }
        other => other,
    };
    if path.sub.is_some() {
        return coerce_bool(path, value, hints);
    }
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| normalize_element(path, item, hints))
            .collect::<ScimResult<Vec<_>>>()
            .map(Value::Array),
        other => normalize_element(path, other, hints),
    }
}

fn normalize_element(
    path: &AttrPath,
    value: Value,
    hints: &dyn AttributeHints,
) -> ScimResult<Value> {
    match value {
        Value::Object(o) => o
            .into_iter()
            .map(|(k, v)| {
                let v = coerce_bool(&path.with_sub(k.clone()), v, hints)?;
                Ok((k, v))
            })
            .collect::<ScimResult<Object>>()
            .map(Value::Object),
        other => coerce_bool(path, other, hints),
    }
}

fn coerce_bool(path: &AttrPath, value: Value, hints: &dyn AttributeHints) -> ScimResult<Value> {
    if !hints.is_boolean(path) {
        return Ok(value);
    }
    match value {
        Value::Bool(_) | Value::Null => Ok(value),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        other => Err(ScimError::invalid_value(format!(
            "attribute '{path}' is boolean; got {}",
            short(&other)
        ))),
    }
}

/// Sub-attributes are simple (RFC 7643 §2.4): reject nested objects and arrays.
fn check_sub_values(path: &AttrPath, sub_values: &Object) -> ScimResult<()> {
    match sub_values.iter().find(|(_, v)| v.is_object() || v.is_array()) {
        Some((k, _)) => Err(ScimError::invalid_value(format!(
            "sub-attribute '{}' must be a simple value",
            path.with_sub(k.clone())
        ))),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Immutability

fn check_immutable(
    res: &Object,
    path: &AttrPath,
    new: Option<&Value>,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    if !hints.is_immutable(path) {
        return Ok(());
    }
    let current = container_ref(res, path).and_then(|c| get_ci(c, &path.name)).and_then(|v| {
        match &path.sub {
            None => Some(v),
            Some(sub) => v.as_object().and_then(|o| get_ci(o, sub)),
        }
    });
    match current {
        Some(cur) if is_present(cur) && new != Some(cur) => {
            Err(ScimError::mutability(format!("attribute '{path}' is immutable")))
        }
        _ => Ok(()),
    }
}

/// A value filter can only touch existing elements of an immutable attribute, so refuse outright
/// once the attribute has values.
fn check_immutable_filtered(
    res: &Object,
    path: &PatchPath,
    hints: &dyn AttributeHints,
) -> ScimResult<()> {
    let attr = &path.attr;
    if !(hints.is_immutable(attr) || hints.is_immutable(&path.target())) {
        return Ok(());
    }
    let has_values =
        container_ref(res, attr).and_then(|c| get_ci(c, &attr.name)).is_some_and(is_present);
    if has_values {
        return Err(ScimError::mutability(format!("attribute '{attr}' is immutable")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Containers: the resource top level or an extension object

fn container_ref<'a>(res: &'a Object, path: &AttrPath) -> Option<&'a Object> {
    match &path.urn {
        Some(urn) if !path.is_core() => get_ci(res, urn)?.as_object(),
        _ => Some(res),
    }
}

/// The object holding `path`'s attribute, if it exists.
fn existing_container<'a>(
    res: &'a mut Object,
    path: &AttrPath,
) -> ScimResult<Option<&'a mut Object>> {
    let urn = match &path.urn {
        Some(urn) if !path.is_core() => urn,
        _ => return Ok(Some(res)),
    };
    let Some(key) = find_key(res, urn) else {
        return Ok(None);
    };
    match res.get_mut(&key) {
        Some(Value::Object(ext)) => Ok(Some(ext)),
        Some(Value::Null) | None => Ok(None),
        Some(_) => Err(ScimError::invalid_value(format!("extension '{urn}' is not an object"))),
    }
}

/// The object holding `path`'s attribute, creating the extension object (and declaring it in
/// `schemas`) when needed.
fn container_or_create<'a>(res: &'a mut Object, path: &AttrPath) -> ScimResult<&'a mut Object> {
    let urn = match &path.urn {
        Some(urn) if !path.is_core() => urn,
        _ => return Ok(res),
    };
    let key = match find_key(res, urn) {
        Some(key) => key,
        None => {
            declare_schema(res, urn);
            urn.clone()
        }
    };
    let slot = res.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(ext) => Ok(ext),
        _ => Err(ScimError::invalid_value(format!("extension '{urn}' is not an object"))),
    }
}

fn declare_schema(res: &mut Object, urn: &str) {
    let Some(key) = find_key(res, "schemas") else {
        return;
    };
    if let Some(Value::Array(schemas)) = res.get_mut(&key) {
        let declared =
            schemas.iter().filter_map(Value::as_str).any(|s| s.eq_ignore_ascii_case(urn));
        if !declared {
            schemas.push(Value::String(urn.to_owned()));
        }
    }
}

fn remove_extension(res: &mut Object, urn: &str) {
    if let Some(key) = find_key(res, urn) {
        res.shift_remove(&key);
    }
    if let Some(key) = find_key(res, "schemas")
        && let Some(Value::Array(schemas)) = res.get_mut(&key)
    {
        schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
    }
}

/// Drops an extension object that a removal left empty, so the resource does not claim a schema
/// it has no data for.
fn prune_extension(res: &mut Object, path: &AttrPath) {
    let Some(urn) = path.urn.as_deref().filter(|_| !path.is_core()) else {
        return;
    };
    let empty = find_key(res, urn)
        .and_then(|k| res.get(&k))
        .is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
    if empty {
        remove_extension(res, urn);
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// The stored spelling of `name` (exact match preferred, else case-insensitive).
fn find_key(map: &Object, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn set_ci(map: &mut Object, name: &str, value: Value) {
    let key = find_key(map, name).unwrap_or_else(|| name.to_owned());
    map.insert(key, value);
}

fn remove_ci(map: &mut Object, name: &str) {
    if let Some(key) = find_key(map, name) {
        map.shift_remove(&key);
    }
}

/// Merges sub-attributes into `target`, keeping existing key spellings; `null` unassigns.
fn merge_into(target: &mut Object, sub_values: Object) {
    for (k, v) in sub_values {
        if v.is_null() {
            remove_ci(target, &k);
        } else {
            set_ci(target, &k, v);
        }
    }
}

fn is_primary(v: &Value) -> bool {
    v.as_object().and_then(|o| get_ci(o, "primary")).is_some_and(|p| *p == Value::Bool(true))
}

/// RFC 7643 §2.4: at most one `primary: true` per attribute. The most recently set element wins
/// (the last touched one that is primary, else the last primary one); the others become false.
fn fix_primary(arr: &mut [Value], touched: &[usize]) {
    let winner = touched
        .iter()
        .rev()
        .copied()
        .find(|&i| arr.get(i).is_some_and(is_primary))
        .or_else(|| arr.iter().rposition(is_primary));
    for (i, e) in arr.iter_mut().enumerate() {
        if Some(i) != winner
            && is_primary(e)
            && let Value::Object(o) = e
        {
            set_ci(o, "primary", Value::Bool(false));
        }
    }
}

/// A JSON excerpt for error messages, bounded so a huge value cannot bloat the response.
fn short(v: &Value) -> String {
    let s = v.to_string();
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(60).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::hints::CoreHints;

    const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": [CORE_USER],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "active": true,
            "emails": [
                {"value": "b@work.com", "type": "work", "primary": true},
                {"value": "b@home.org", "type": "home"}
            ],
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        })
    }

    fn group() -> Value {
        json!({
            "schemas": [CORE_GROUP],
            "id": "g1",
            "displayName": "Eng",
            "members": [{"value": "m1", "display": "Alice"}],
            "meta": {"resourceType": "Group"}
        })
    }

    /// `user()` with top-level keys replaced (null = removed).
    fn user_with(changes: Value) -> Value {
        with(user(), changes)
    }

    fn with(mut base: Value, changes: Value) -> Value {
        let obj = base.as_object_mut().unwrap();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                obj.shift_remove(k);
            } else {
                obj.insert(k.clone(), v.clone());
            }
        }
        base
    }

    fn request(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_URN], "Operations": ops})
    }

    fn run_with(resource: Value, ops: Value, hints: &dyn AttributeHints) -> ScimResult<Value> {
        let ops = parse_patch_request(&request(ops))?;
        let mut r = resource;
        apply_patch(&mut r, &ops, hints)?;
        Ok(r)
    }

    fn run(resource: Value, ops: Value) -> ScimResult<Value> {
        run_with(resource, ops, &CoreHints)
    }

    enum Want {
        Ok(Value),
        Err(ScimType, &'static str),
    }

    fn check(cases: Vec<(&str, Value, Value, Want)>) {
        for (name, before, ops, want) in cases {
            let got = run(before, ops);
            match (got, want) {
                (Ok(got), Want::Ok(want)) => assert_eq!(got, want, "{name}"),
                (Err(e), Want::Err(t, detail)) => {
                    assert_eq!(e.scim_type, Some(t), "{name}: {e}");
                    assert!(
                        e.detail.contains(detail),
                        "{name}: got {:?}, want {detail:?}",
                        e.detail
                    );
                }
                (Ok(got), Want::Err(t, _)) => panic!("{name}: expected {t:?}, got {got}"),
                (Err(e), Want::Ok(_)) => panic!("{name}: unexpected error {e}"),
            }
        }
    }

    #[test]
    fn parse_request_validation() {
        let cases: Vec<(&str, Value, ScimType, &str)> = vec![
            ("not object", json!([]), ScimType::InvalidSyntax, "JSON object"),
            (
                "no schemas",
                json!({"Operations": [{"op": "add", "value": {}}]}),
                ScimType::InvalidSyntax,
                "'schemas'",
            ),
            (
                "wrong schema",
                json!({"schemas": ["urn:x"], "Operations": []}),
                ScimType::InvalidSyntax,
                PATCH_OP_URN,
            ),
            (
                "no operations",
                json!({"schemas": [PATCH_OP_URN]}),
                ScimType::InvalidSyntax,
                "missing 'Operations'",
            ),
            (
                "operations not array",
                json!({"schemas": [PATCH_OP_URN], "Operations": {}}),
                ScimType::InvalidSyntax,
                "must be an array",
            ),
            ("empty operations", request(json!([])), ScimType::InvalidSyntax, "must not be empty"),
            (
                "op not object",
                request(json!(["add"])),
                ScimType::InvalidSyntax,
                "operation 0 must be an object",
            ),
            (
                "missing op",
                request(json!([{"path": "x", "value": 1}])),
                ScimType::InvalidSyntax,
                "operation 0 has no 'op'",
            ),
            (
                "unknown op",
                request(json!([{"op": "copy", "path": "x"}])),
                ScimType::InvalidSyntax,
                "unknown op \"copy\"",
            ),
            (
                "bad path",
                request(
                    json!([{"op": "add", "value": 1}, {"op": "remove", "path": "emails[type eq"}]),
                ),
                ScimType::InvalidPath,
                "operation 1: unexpected end of input",
            ),
            (
                "path not string",
                request(json!([{"op": "add", "path": 3, "value": 1}])),
                ScimType::InvalidPath,
                "'path' must be a string",
            ),
            (
                "add without value",
                request(json!([{"op": "add", "path": "title"}])),
                ScimType::InvalidValue,
                "operation 0 (add) requires a 'value'",
            ),
            (
                "replace without value",
                request(json!([{"op": "Replace", "path": "title"}])),
                ScimType::InvalidValue,
                "(replace) requires",
            ),
            (
                "remove without path",
                request(json!([{"op": "remove"}])),
                ScimType::NoTarget,
                "requires a 'path'",
            ),
            (
                "remove with empty path",
                request(json!([{"op": "remove", "path": ""}])),
                ScimType::NoTarget,
                "requires a 'path'",
            ),
        ];
        for (name, body, t, detail) in cases {
            let e = parse_patch_request(&body).unwrap_err();
            assert_eq!(e.scim_type, Some(t), "{name}: {e}");
            assert!(e.detail.contains(detail), "{name}: {:?}", e.detail);
        }
        let too_many: Vec<Value> =
            (0..=MAX_OPERATIONS).map(|_| json!({"op": "remove", "path": "x"})).collect();
        let e = parse_patch_request(&request(Value::Array(too_many))).unwrap_err();
        assert!(e.detail.contains("maximum of 1000"), "{e}");
        let max: Vec<Value> =
            (0..MAX_OPERATIONS).map(|_| json!({"op": "remove", "path": "x"})).collect();
        assert_eq!(parse_patch_request(&request(Value::Array(max))).unwrap().len(), MAX_OPERATIONS);
    }

    #[test]
    fn parse_request_accepts_dialects() {
        let body = json!({
            "schemas": [PATCH_OP_URN.to_uppercase()],
            "operations": [
                {"op": "add", "path": "title", "value": "x"},
                {"op": "Add", "path": "", "value": {"title": "y"}},
                {"OP": "REPLACE", "PATH": "name.givenName", "VALUE": null},
                {"op": "Remove", "path": "emails[type eq \"work\"]", "value": [{"value": "a"}]}
            ]
        });
        let ops = parse_patch_request(&body).unwrap();
        assert_eq!(
            ops.iter().map(|o| o.op).collect::<Vec<_>>(),
            [PatchOpKind::Add, PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
        );
        assert_eq!(ops[0].path.as_ref().unwrap().attr, AttrPath::new("title"));
        assert!(ops[1].path.is_none());
        assert_eq!(ops[2].value, Some(Value::Null));
        assert!(ops[3].path.as_ref().unwrap().filter.is_some());
    }

    #[test]
    fn simple_and_complex_attributes() {
        check(vec![
            (
                "replace simple",
                user(),
                json!([{"op": "replace", "path": "userName", "value": "bj"}]),
                Want::Ok(user_with(json!({"userName": "bj"}))),
            ),
            (
                "add sets simple",
                user(),
                json!([{"op": "add", "path": "userName", "value": "bj"}]),
                Want::Ok(user_with(json!({"userName": "bj"}))),
            ),
            (
                "add new attribute",
                user(),
                json!([{"op": "add", "path": "title", "value": "Boss"}]),
                Want::Ok(user_with(json!({"title": "Boss"}))),
            ),
            (
                "replace absent is add",
                user(),
                json!([{"op": "replace", "path": "title", "value": "Boss"}]),
                Want::Ok(user_with(json!({"title": "Boss"}))),
            ),
            (
                "existing key spelling kept",
                user(),
                json!([{"op": "replace", "path": "USERNAME", "value": "bj"}]),
                Want::Ok(user_with(json!({"userName": "bj"}))),
            ),
            (
                "new key spelled as given",
                user(),
                json!([{"op": "add", "path": "NickName", "value": "B"}]),
                Want::Ok(user_with(json!({"NickName": "B"}))),
            ),
            (
                "replace null removes",
                user(),
                json!([{"op": "replace", "path": "userName", "value": null}]),
                Want::Ok(user_with(json!({"userName": null}))),
            ),
            (
                "add null removes",
                user(),
                json!([{"op": "add", "path": "name", "value": null}]),
                Want::Ok(user_with(json!({"name": null}))),
            ),
            (
                "core urn prefix is top level",
                user(),
                json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:userName", "value": "bj"}]),
                Want::Ok(user_with(json!({"userName": "bj"}))),
            ),
            (
                "replace complex merges",
                user(),
                json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}]),
                Want::Ok(user_with(json!({"name": {"givenName": "Babs", "familyName": "Jensen"}}))),
            ),
            (
                "add complex merges",
                user(),
                json!([{"op": "add", "path": "name", "value": {"middleName": "J", "GIVENNAME": "Babs"}}]),
                Want::Ok(user_with(
                    json!({"name": {"givenName": "Babs", "familyName": "Jensen", "middleName": "J"}}),
                )),
            ),
            (
                "complex merge null removes sub",
                user(),
                json!([{"op": "replace", "path": "name", "value": {"givenName": null}}]),
                Want::Ok(user_with(json!({"name": {"familyName": "Jensen"}}))),
            ),
            (
                "complex created",
                user_with(json!({"name": null})),
                json!([{"op": "add", "path": "name", "value": {"givenName": "B", "x": null}}]),
                Want::Ok(user_with(json!({"name": {"givenName": "B"}}))),
            ),
            (
                "replace sub-attribute",
                user(),
                json!([{"op": "replace", "path": "name.givenName", "value": "Babs"}]),
                Want::Ok(user_with(json!({"name": {"givenName": "Babs", "familyName": "Jensen"}}))),
            ),
            (
                "add sub-attribute",
                user(),
                json!([{"op": "add", "path": "name.middleName", "value": "J"}]),
                Want::Ok(user_with(
                    json!({"name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"}}),
                )),
            ),
            (
                "sub-attribute creates parent",
                user_with(json!({"name": null})),
                json!([{"op": "add", "path": "name.givenName", "value": "B"}]),
                Want::Ok(user_with(json!({"name": {"givenName": "B"}}))),
            ),
            (
                "sub-attribute null removes",
                user(),
                json!([{"op": "replace", "path": "name.givenName", "value": null}]),
                Want::Ok(user_with(json!({"name": {"familyName": "Jensen"}}))),
            ),
            (
                "remove simple",
                user(),
                json!([{"op": "remove", "path": "userName"}]),
                Want::Ok(user_with(json!({"userName": null}))),
            ),
            (
                "remove absent is no-op",
                user(),
                json!([{"op": "remove", "path": "title"}]),
                Want::Ok(user()),
            ),
            (
                "remove absent sub is no-op",
                user(),
                json!([{"op": "remove", "path": "addresses.country"}]),
                Want::Ok(user()),
            ),
            (
                "remove sub-attribute",
                user(),
                json!([{"op": "remove", "path": "name.givenName"}]),
                Want::Ok(user_with(json!({"name": {"familyName": "Jensen"}}))),
            ),
            (
                "remove last sub removes parent",
                user(),
                json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "Name.FamilyName"}]),
                Want::Ok(user_with(json!({"name": null}))),
            ),
            (
                "remove complex",
                user(),
                json!([{"op": "remove", "path": "name"}]),
                Want::Ok(user_with(json!({"name": null}))),
            ),
        ]);
    }

    #[test]
    fn multi_valued_attributes() {
        let work = json!({"value": "b@work.com", "type": "work", "primary": true});
        let home = json!({"value": "b@home.org", "type": "home"});
        check(vec![
            (
                "add appends",
                user(),
                json!([{"op": "add", "path": "emails", "value": [{"value": "x@y.z", "type": "other"}]}]),
                Want::Ok(user_with(
                    json!({"emails": [work, home, {"value": "x@y.z", "type": "other"}]}),
                )),
            ),
            (
                "add single object appends",
                user(),
                json!([{"op": "add", "path": "emails", "value": {"value": "x@y.z"}}]),
                Want::Ok(user_with(json!({"emails": [work, home, {"value": "x@y.z"}]}))),
            ),
            (
                "add skips exact duplicate",
                user(),
                json!([{"op": "add", "path": "emails", "value": [home]}]),
                Want::Ok(user()),
            ),
            (
                "add same value and type merges",
                user(),
                json!([{"op": "add", "path": "emails", "value": [{"value": "b@home.org", "type": "home", "display": "Home"}]}]),
                Want::Ok(user_with(
                    json!({"emails": [work, {"value": "b@home.org", "type": "home", "display": "Home"}]}),
                )),
            ),
            (
                "add same value other type appends",
                user(),
                json!([{"op": "add", "path": "emails", "value": [{"value": "b@home.org", "type": "other"}]}]),
                Want::Ok(user_with(
                    json!({"emails": [work, home, {"value": "b@home.org", "type": "other"}]}),
                )),
            ),
            (
                "add creates attribute",
                user_with(json!({"emails": null})),
                json!([{"op": "add", "path": "emails", "value": [home]}]),
                Want::Ok(user_with(json!({"emails": [home]}))),
            ),
            (
                "add to simple multi-valued",
                user(),
                json!([{"op": "add", "path": "x509Certificates", "value": ["MII1", "MII1", "MII2"]}]),
                Want::Ok(user_with(json!({"x509Certificates": ["MII1", "MII2"]}))),
            ),
            (
                "replace replaces wholesale",
                user(),
                json!([{"op": "replace", "path": "emails", "value": [{"value": "n@x.com"}]}]),
                Want::Ok(user_with(json!({"emails": [{"value": "n@x.com"}]}))),
            ),
            (
                "replace with empty array unassigns",
                user(),
                json!([{"op": "replace", "path": "emails", "value": []}]),
                Want::Ok(user_with(json!({"emails": null}))),
            ),
            (
                "sub-attribute of every element",
                user(),
                json!([{"op": "replace", "path": "emails.display", "value": "E"}]),
                Want::Ok(user_with(json!({"emails": [
                    {"value": "b@work.com", "type": "work", "primary": true, "display": "E"},
                    {"value": "b@home.org", "type": "home", "display": "E"}
                ]}))),
            ),
            (
                "sub-attribute of absent multi-valued",
                user_with(json!({"emails": null})),
                json!([{"op": "replace", "path": "emails.display", "value": "E"}]),
                Want::Err(ScimType::NoTarget, "'emails' has no values"),
            ),
            (
                "remove whole multi-valued",
                user(),
                json!([{"op": "remove", "path": "emails"}]),
                Want::Ok(user_with(json!({"emails": null}))),
            ),
            (
                "remove sub of every element",
                user(),
                json!([{"op": "remove", "path": "emails.type"}]),
                Want::Ok(user_with(
                    json!({"emails": [{"value": "b@work.com", "primary": true}, {"value": "b@home.org"}]}),
                )),
            ),
            (
                "remove listed values",
                user(),
                json!([{"op": "remove", "path": "emails", "value": [{"value": "b@work.com"}]}]),
                Want::Ok(user_with(json!({"emails": [home]}))),
            ),
        ]);
    }

    #[test]
    fn value_filter_paths() {
        let work = json!({"value": "b@work.com", "type": "work", "primary": true});
        let home = json!({"value": "b@home.org", "type": "home"});
        check(vec![
            (
                "replace sub of matching",
                user(),
                json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "n@work.com"}]),
                Want::Ok(user_with(
                    json!({"emails": [{"value": "n@work.com", "type": "work", "primary": true}, home]}),
                )),
            ),
            (
                "add sub of matching",
                user(),
                json!([{"op": "add", "path": "emails[type eq \"home\"].display", "value": "H"}]),
                Want::Ok(user_with(
                    json!({"emails": [work, {"value": "b@home.org", "type": "home", "display": "H"}]}),
                )),
            ),
            (
                "sub on every match",
                user(),
                json!([{"op": "replace", "path": "emails[value pr].display", "value": "D"}]),
                Want::Ok(user_with(json!({"emails": [
                    {"value": "b@work.com", "type": "work", "primary": true, "display": "D"},
                    {"value": "b@home.org", "type": "home", "display": "D"}
                ]}))),
            ),
            (
                "merge object into matching",
                user(),
                json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "n@home.org", "display": "H"}}]),
                Want::Ok(user_with(
                    json!({"emails": [work, {"value": "n@home.org", "type": "home", "display": "H"}]}),
                )),
            ),
            (
                "no match with eq creates element",
                user(),
                json!([{"op": "add", "path": "emails[type eq \"other\"].value", "value": "o@x.com"}]),
                Want::Ok(user_with(
                    json!({"emails": [work, home, {"type": "other", "value": "o@x.com"}]}),
                )),
            ),
            (
                "no match with eq conjunction creates",
                user_with(json!({"addresses": null})),
                json!([{"op": "replace", "path": "addresses[type eq \"work\" and country eq \"US\"].locality", "value": "Austin"}]),
                Want::Ok(user_with(
                    json!({"addresses": [{"type": "work", "country": "US", "locality": "Austin"}]}),
                )),
            ),
            (
                "no match object creates",
                user(),
                json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "o@x.com"}}]),
                Want::Ok(user_with(
                    json!({"emails": [work, home, {"type": "other", "value": "o@x.com"}]}),
                )),
            ),
            (
                "no match without eq is noTarget",
                user(),
                json!([{"op": "replace", "path": "emails[value co \"nobody\"].type", "value": "x"}]),
                Want::Err(
                    ScimType::NoTarget,
                    "no value of 'emails' matches the filter [value co \"nobody\"]",
                ),
            ),
            (
                "no match with or is noTarget",
                user(),
                json!([{"op": "replace", "path": "emails[type eq \"a\" or type eq \"b\"].value", "value": "x"}]),
                Want::Err(ScimType::NoTarget, "matches the filter"),
            ),
            (
                "no match with contradictory eq is noTarget",
                user(),
                json!([{"op": "replace", "path": "emails[type eq \"a\" and type eq \"b\"].value", "value": "x"}]),
                Want::Err(ScimType::NoTarget, "matches the filter"),
            ),
            (
                "filter null value removes matches",
                user(),
                json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": null}]),
                Want::Ok(user_with(json!({"emails": [work]}))),
            ),
            (
                "remove matching elements",
                user(),
                json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
                Want::Ok(user_with(json!({"emails": [work]}))),
            ),
            (
                "remove last matching unassigns",
                user(),
                json!([{"op": "remove", "path": "emails[value pr]"}]),
                Want::Ok(user_with(json!({"emails": null}))),
            ),
            (
                "remove sub of matching",
                user(),
                json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
                Want::Ok(user_with(
                    json!({"emails": [{"value": "b@work.com", "type": "work"}, home]}),
                )),
            ),
            (
                "remove with no match is no-op",
                user(),
                json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]),
                Want::Ok(user()),
            ),
            (
                "remove on absent attribute is no-op",
                user(),
                json!([{"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}]),
                Want::Ok(user()),
            ),
            (
                "filter is case-insensitive",
                user(),
                json!([{"op": "remove", "path": "EMAILS[TYPE EQ \"HOME\"]"}]),
                Want::Ok(user_with(json!({"emails": [work]}))),
            ),
        ]);
    }

    #[test]
    fn primary_is_unique() {
        check(vec![
            (
                "added primary wins",
                user(),
                json!([{"op": "add", "path": "emails", "value": [{"value": "n@x.com", "primary": true}]}]),
                Want::Ok(user_with(json!({"emails": [
                    {"value": "b@work.com", "type": "work", "primary": false},
                    {"value": "b@home.org", "type": "home"},
                    {"value": "n@x.com", "primary": true}
                ]}))),
            ),
            (
                "last primary in replace wins",
                user(),
                json!([{"op": "replace", "path": "emails", "value": [{"value": "a", "primary": true}, {"value": "b", "primary": "True"}]}]),
                Want::Ok(user_with(
                    json!({"emails": [{"value": "a", "primary": false}, {"value": "b", "primary": true}]}),
                )),
            ),
            (
                "filtered primary wins",
                user(),
                json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
                Want::Ok(user_with(json!({"emails": [
                    {"value": "b@work.com", "type": "work", "primary": false},
                    {"value": "b@home.org", "type": "home", "primary": true}
                ]}))),
            ),
            (
                "merged primary wins",
                user(),
                json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"primary": "true"}}]),
                Want::Ok(user_with(json!({"emails": [
                    {"value": "b@work.com", "type": "work", "primary": false},
                    {"value": "b@home.org", "type": "home", "primary": true}
                ]}))),
            ),
            (
                "primary false leaves others",
                user(),
                json!([{"op": "add", "path": "emails", "value": [{"value": "n@x.com", "primary": false}]}]),
                Want::Ok(user_with(json!({"emails": [
                    {"value": "b@work.com", "type": "work", "primary": true},
                    {"value": "b@home.org", "type": "home"},
                    {"value": "n@x.com", "primary": false}
                ]}))),
            ),
        ]);
    }

    #[test]
    fn read_only_and_ignored_attributes() {
        check(vec![
            (
                "path id",
                user(),
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                Want::Err(ScimType::Mutability, "'id' is read-only"),
            ),
            (
                "path meta sub",
                user(),
                json!([{"op": "replace", "path": "meta.lastModified", "value": "x"}]),
                Want::Err(ScimType::Mutability, "read-only"),
            ),
            (
                "remove meta",
                user(),
                json!([{"op": "remove", "path": "meta"}]),
                Want::Err(ScimType::Mutability, "read-only"),
            ),
            (
                "add groups",
                user(),
                json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
                Want::Err(ScimType::Mutability, "'groups' is read-only"),
            ),
            (
                "filtered groups",
                user(),
                json!([{"op": "remove", "path": "groups[value eq \"g\"]"}]),
                Want::Err(ScimType::Mutability, "read-only"),
            ),
            (
                "no-path ignores id meta schemas groups",
                user(),
                json!([{"op": "replace", "value": {"id": "x", "META": {"version": "2"}, "schemas": [], "groups": [{"value": "g"}], "title": "T"}}]),
                Want::Ok(user_with(json!({"title": "T"}))),
            ),
        ]);
    }

    #[test]
    fn path_less_operations() {
        check(vec![
            (
                "add sets and merges",
                user(),
                json!([{"op": "add", "value": {"title": "T", "name": {"middleName": "J"}, "emails": [{"value": "n@x.com"}]}}]),
                Want::Ok(user_with(json!({
                    "title": "T",
                    "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"},
                    "emails": [
                        {"value": "b@work.com", "type": "work", "primary": true},
                        {"value": "b@home.org", "type": "home"},
                        {"value": "n@x.com"}
                    ]
                }))),
            ),
            (
                "replace replaces multi-valued, merges complex",
                user(),
                json!([{"op": "replace", "value": {"name": {"givenName": "B"}, "emails": [{"value": "n@x.com"}]}}]),
                Want::Ok(user_with(json!({
                    "name": {"givenName": "B", "familyName": "Jensen"},
                    "emails": [{"value": "n@x.com"}]
                }))),
            ),
            (
                "dotted keys",
                user(),
                json!([{"op": "replace", "value": {"name.givenName": "B", "name.familyName": null}}]),
                Want::Ok(user_with(json!({"name": {"givenName": "B"}}))),
            ),
            (
                "null value removes",
                user(),
                json!([{"op": "replace", "value": {"userName": null}}]),
                Want::Ok(user_with(json!({"userName": null}))),
            ),
            (
                "case-insensitive keys",
                user(),
                json!([{"op": "replace", "value": {"USERNAME": "x", "Active": false}}]),
                Want::Ok(user_with(json!({"userName": "x", "active": false}))),
            ),
            (
                "array value rejected",
                user(),
                json!([{"op": "add", "value": [{"title": "x"}]}]),
                Want::Err(ScimType::InvalidValue, "needs an object 'value'"),
            ),
            (
                "invalid key rejected",
                user(),
                json!([{"op": "add", "value": {"1bad": "x"}}]),
                Want::Err(ScimType::InvalidValue, "invalid attribute name '1bad'"),
            ),
        ]);
    }

    #[test]
    fn wrong_shapes_are_invalid_value() {
        check(vec![
            (
                "object for simple",
                user(),
                json!([{"op": "replace", "path": "userName", "value": {"a": 1}}]),
                Want::Err(ScimType::InvalidValue, "'userName' is simple"),
            ),
            (
                "array for single-valued",
                user(),
                json!([{"op": "replace", "path": "userName", "value": ["a"]}]),
                Want::Err(ScimType::InvalidValue, "'userName' is single-valued"),
            ),
            (
                "simple for complex",
                user(),
                json!([{"op": "replace", "path": "name", "value": "Babs"}]),
                Want::Err(ScimType::InvalidValue, "'name' is complex"),
            ),
            (
                "nested complex",
                user(),
                json!([{"op": "replace", "path": "name", "value": {"givenName": {"x": 1}}}]),
                Want::Err(ScimType::InvalidValue, "'name.givenName' must be a simple value"),
            ),
            (
                "object for sub-attribute",
                user(),
                json!([{"op": "replace", "path": "name.givenName", "value": {"x": 1}}]),
                Want::Err(ScimType::InvalidValue, "'name.givenName' must be a simple value"),
            ),
            (
                "sub of simple",
                user(),
                json!([{"op": "replace", "path": "userName.x", "value": "y"}]),
                Want::Err(ScimType::InvalidValue, "'userName' is simple"),
            ),
            (
                "nested array element",
                user(),
                json!([{"op": "add", "path": "emails", "value": [["a"]]}]),
                Want::Err(ScimType::InvalidValue, "elements of 'emails'"),
            ),
            (
                "complex element sub",
                user(),
                json!([{"op": "add", "path": "emails", "value": [{"value": {"a": 1}}]}]),
                Want::Err(ScimType::InvalidValue, "'emails.value' must be a simple value"),
            ),
            (
                "object for filtered sub",
                user(),
                json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": {"a": 1}}]),
                Want::Err(ScimType::InvalidValue, "'emails.value' must be a simple value"),
            ),
            (
                "simple for filtered element",
                user(),
                json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": "x"}]),
                Want::Err(ScimType::InvalidValue, "value must be an object"),
            ),
            (
                "filter on single-valued",
                user(),
                json!([{"op": "replace", "path": "userName[value eq \"x\"].value", "value": "x"}]),
                Want::Err(ScimType::InvalidPath, "'userName' is not multi-valued"),
            ),
            (
                "remove filter on single-valued",
                user(),
                json!([{"op": "remove", "path": "name[givenName eq \"x\"]"}]),
                Want::Err(ScimType::InvalidPath, "'name' is not multi-valued"),
            ),
        ]);
    }

    #[test]
    fn boolean_coercion() {
        check(vec![
            (
                "False string",
                user(),
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
                Want::Ok(user_with(json!({"active": false}))),
            ),
            (
                "true string",
                user_with(json!({"active": false})),
                json!([{"op": "replace", "path": "active", "value": "true"}]),
                Want::Ok(user()),
            ),
            (
                "no-path string",
                user(),
                json!([{"op": "replace", "value": {"active": "FALSE"}}]),
                Want::Ok(user_with(json!({"active": false}))),
            ),
            (
                "element primary string",
                user_with(json!({"emails": null})),
                json!([{"op": "add", "path": "emails", "value": [{"value": "a", "primary": "True"}]}]),
                Want::Ok(user_with(json!({"emails": [{"value": "a", "primary": true}]}))),
            ),
            (
                "filtered primary string",
                user(),
                json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "False"}]),
                Want::Ok(user_with(
                    json!({"emails": [{"value": "b@work.com", "type": "work", "primary": false}, {"value": "b@home.org", "type": "home"}]}),
                )),
            ),
            (
                "non-boolean string",
                user(),
                json!([{"op": "replace", "path": "active", "value": "yes"}]),
                Want::Err(ScimType::InvalidValue, "'active' is boolean; got \"yes\""),
            ),
            (
                "number for boolean",
                user(),
                json!([{"op": "replace", "value": {"active": 1}}]),
                Want::Err(ScimType::InvalidValue, "'active' is boolean"),
            ),
            (
                "bad primary",
                user(),
                json!([{"op": "add", "path": "emails", "value": [{"value": "a", "primary": "maybe"}]}]),
                Want::Err(ScimType::InvalidValue, "'emails.primary' is boolean"),
            ),
            (
                "non-boolean attribute untouched",
                user(),
                json!([{"op": "replace", "path": "title", "value": "True"}]),
                Want::Ok(user_with(json!({"title": "True"}))),
            ),
        ]);
    }

    #[test]
    fn extension_attributes() {
        let with_ext = |ext: Value| with(user(), json!({"schemas": [CORE_USER, ENT], ENT: ext}));
        check(vec![
            (
                "creates extension and declares schema",
                user(),
                json!([{"op": "add", "path": format!("{ENT}:department"), "value": "Eng"}]),
                Want::Ok(with_ext(json!({"department": "Eng"}))),
            ),
            (
                "extension key matched case-insensitively",
                with_ext(json!({"department": "Eng"})),
                json!([{"op": "replace", "path": format!("{}:Department", ENT.to_uppercase()), "value": "Ops"}]),
                Want::Ok(with_ext(json!({"department": "Ops"}))),
            ),
            (
                "removing last attribute drops extension",
                with_ext(json!({"department": "Eng"})),
                json!([{"op": "remove", "path": format!("{ENT}:department")}]),
                Want::Ok(user()),
            ),
            (
                "remove absent extension attribute is no-op",
                user(),
                json!([{"op": "remove", "path": format!("{ENT}:department")}]),
                Want::Ok(user()),
            ),
            (
                "whole extension object with its own schemas key",
                with_ext(json!({"department": "Eng"})),
                json!([{"op": "replace", "path": ENT, "value": {"schemas": [ENT], "costCenter": "42"}}]),
                Want::Ok(with_ext(json!({"department": "Eng", "costCenter": "42"}))),
            ),
            (
                "manager string",
                user(),
                json!([{"op": "Replace", "path": format!("{ENT}:manager"), "value": "26118915-6090-4610-87e4-49d8ca9f808d"}]),
                Want::Ok(with_ext(
                    json!({"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}}),
                )),
            ),
            (
                "manager object",
                user(),
                json!([{"op": "add", "path": format!("{ENT}:manager"), "value": {"value": "m"}}]),
                Want::Ok(with_ext(json!({"manager": {"value": "m"}}))),
            ),
            (
                "manager.value path",
                with_ext(json!({"manager": {"value": "m", "displayName": "M"}})),
                json!([{"op": "replace", "path": format!("{ENT}:manager.value"), "value": "n"}]),
                Want::Ok(with_ext(json!({"manager": {"value": "n", "displayName": "M"}}))),
            ),
            (
                "manager empty string removes",
                with_ext(json!({"manager": {"value": "m"}, "department": "Eng"})),
                json!([{"op": "replace", "path": format!("{ENT}:manager"), "value": ""}]),
                Want::Ok(with_ext(json!({"department": "Eng"}))),
            ),
            (
                "manager null removes",
                with_ext(json!({"manager": {"value": "m"}})),
                json!([{"op": "replace", "path": format!("{ENT}:manager"), "value": null}]),
                Want::Ok(user()),
            ),
            (
                "no-path extension object merges",
                with_ext(json!({"department": "Eng", "costCenter": "1"})),
                json!([{"op": "replace", "value": {ENT: {"department": "Ops", "manager": "m"}}}]),
                Want::Ok(with_ext(
                    json!({"department": "Ops", "costCenter": "1", "manager": {"value": "m"}}),
                )),
            ),
            (
                "no-path URN-qualified key",
                user(),
                json!([{"op": "add", "value": {format!("{ENT}:employeeNumber"): "42"}}]),
                Want::Ok(with_ext(json!({"employeeNumber": "42"}))),
            ),
            (
                "no-path extension null drops it",
                with_ext(json!({"department": "Eng"})),
                json!([{"op": "replace", "value": {ENT: null}}]),
                Want::Ok(user()),
            ),
            (
                "path naming the extension merges",
                with_ext(json!({"department": "Eng"})),
                json!([{"op": "add", "path": ENT, "value": {"division": "R&D"}}]),
                Want::Ok(with_ext(json!({"department": "Eng", "division": "R&D"}))),
            ),
            (
                "remove path naming the extension",
                with_ext(json!({"department": "Eng"})),
                json!([{"op": "remove", "path": ENT}]),
                Want::Ok(user()),
            ),
            (
                "extension value must be object",
                user(),
                json!([{"op": "add", "value": {ENT: "x"}}]),
                Want::Err(ScimType::InvalidValue, "must be an object"),
            ),
            (
                "custom extension declared in schemas",
                with(user(), json!({"schemas": [CORE_USER, "urn:acme:ext"]})),
                json!([{"op": "add", "value": {"urn:acme:ext": {"badge": "7"}}}]),
                Want::Ok(with(
                    user(),
                    json!({"schemas": [CORE_USER, "urn:acme:ext"], "urn:acme:ext": {"badge": "7"}}),
                )),
            ),
        ]);
    }

    #[test]
    fn okta_group_push_sequence() {
        let steps: Vec<(Value, Value)> = vec![
            (
                json!([{"op": "replace", "value": {"id": "g1", "displayName": "Engineering"}}]),
                with(group(), json!({"displayName": "Engineering"})),
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"value": "m2", "display": "Bob"}, {"value": "m3", "display": "Carol"}]}]),
                with(
                    group(),
                    json!({"displayName": "Engineering", "members": [
                        {"value": "m1", "display": "Alice"}, {"value": "m2", "display": "Bob"}, {"value": "m3", "display": "Carol"}
                    ]}),
                ),
            ),
            (
                json!([{"op": "remove", "path": "members[value eq \"m1\"]"}]),
                with(
                    group(),
                    json!({"displayName": "Engineering", "members": [
                        {"value": "m2", "display": "Bob"}, {"value": "m3", "display": "Carol"}
                    ]}),
                ),
            ),
            (
                json!([{"op": "replace", "path": "members", "value": [{"value": "m4", "display": "Dan"}]}]),
                with(
                    group(),
                    json!({"displayName": "Engineering", "members": [{"value": "m4", "display": "Dan"}]}),
                ),
            ),
            (
                json!([{"op": "replace", "path": "members", "value": []}]),
                with(group(), json!({"displayName": "Engineering", "members": null})),
            ),
        ];
        let mut current = group();
        for (i, (ops, want)) in steps.into_iter().enumerate() {
            current = run(current, ops).unwrap_or_else(|e| panic!("step {i}: {e}"));
            assert_eq!(current, want, "step {i}");
        }
        // Okta deactivation.
        let deactivated =
            run(user(), json!([{"op": "replace", "value": {"active": false}}])).unwrap();
        assert_eq!(deactivated, user_with(json!({"active": false})));
    }

    #[test]
    fn entra_dialect() {
        let entra_user = with(user(), json!({"emails": [{"value": "b@home.org", "type": "home"}]}));
        let ops = json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "b@work.com"},
            {"op": "Replace", "path": "emails[type eq \"work\"].primary", "value": "True"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "value": {"name.givenName": "Barb", format!("{ENT}:department"): "Eng", "displayName": "Barb J"}},
            {"op": "Replace", "path": format!("{ENT}:manager"), "value": "26118915-6090-4610-87e4-49d8ca9f808d"},
            {"op": "Replace", "path": "externalId", "value": "aad-1"}
        ]);
        let want = json!({
            "schemas": [CORE_USER, ENT],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barb", "familyName": "Jensen"},
            "active": false,
            "emails": [
                {"value": "b@home.org", "type": "home"},
                {"type": "work", "value": "b@work.com", "primary": true}
            ],
            "meta": {"resourceType": "User", "version": "W/\"1\""},
            "displayName": "Barb J",
            ENT: {"department": "Eng", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
            "externalId": "aad-1"
        });
        assert_eq!(run(entra_user, ops).unwrap(), want);

        let members = with(
            group(),
            json!({"members": [{"value": "id1"}, {"value": "id2"}, {"value": "id3"}]}),
        );
        let got = run(members.clone(), json!([{"op": "Remove", "path": "members", "value": [{"value": "id1"}, {"value": "id3"}, {"value": "nope"}]}])).unwrap();
        assert_eq!(got, with(group(), json!({"members": [{"value": "id2"}]})));
        let got = run(members, json!([{"op": "Add", "path": "members", "value": [{"value": "id2"}, {"value": "id4"}]}])).unwrap();
        assert_eq!(
            got,
            with(
                group(),
                json!({"members": [{"value": "id1"}, {"value": "id2"}, {"value": "id3"}, {"value": "id4"}]})
            )
        );
    }

    #[test]
    fn keeps_key_order() {
        let got = run(user(), json!([{"op": "replace", "path": "userName", "value": "x"}, {"op": "remove", "path": "name"}])).unwrap();
        let keys: Vec<&str> = got.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["schemas", "id", "userName", "active", "emails", "meta"]);
    }

    #[test]
    fn stops_at_first_error() {
        let ops = parse_patch_request(&request(json!([
            {"op": "replace", "path": "userName", "value": "x"},
            {"op": "replace", "path": "id", "value": "y"},
            {"op": "replace", "path": "title", "value": "never"}
        ])))
        .unwrap();
        let mut r = user();
        let e = apply_patch(&mut r, &ops, &CoreHints).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        assert!(r.get("title").is_none());
        let mut not_object = json!([]);
        assert_eq!(apply_patch(&mut not_object, &ops, &CoreHints).unwrap_err().status, 500);
    }

    /// CoreHints plus an immutable `externalId` and `emails`.
    struct ImmutableHints;
    impl AttributeHints for ImmutableHints {
        fn case_exact(&self, p: &AttrPath) -> bool {
            CoreHints.case_exact(p)
        }
        fn is_multi_valued(&self, p: &AttrPath) -> bool {
            CoreHints.is_multi_valued(p)
        }
        fn is_boolean(&self, p: &AttrPath) -> bool {
            CoreHints.is_boolean(p)
        }
        fn is_read_only(&self, p: &AttrPath) -> bool {
            CoreHints.is_read_only(p)
        }
        fn is_immutable(&self, p: &AttrPath) -> bool {
            p.name == "externalId" || p.name == "emails"
        }
    }

    #[test]
    fn immutable_attributes() {
        let h = &ImmutableHints;
        let ok = |r: Value, ops: Value| run_with(r, ops, h).unwrap();
        let err = |r: Value, ops: Value| run_with(r, ops, h).unwrap_err().scim_type;
        let set = json!([{"op": "replace", "path": "externalId", "value": "e1"}]);
        assert_eq!(ok(user(), set.clone()), user_with(json!({"externalId": "e1"})));
        assert_eq!(
            ok(user_with(json!({"externalId": "e1"})), set.clone()),
            user_with(json!({"externalId": "e1"}))
        );
        assert_eq!(err(user_with(json!({"externalId": "e0"})), set), Some(ScimType::Mutability));
        assert_eq!(
            err(
                user_with(json!({"externalId": "e0"})),
                json!([{"op": "remove", "path": "externalId"}])
            ),
            Some(ScimType::Mutability)
        );
        assert_eq!(
            err(user(), json!([{"op": "remove", "path": "emails[type eq \"work\"]"}])),
            Some(ScimType::Mutability)
        );
        assert_eq!(
            err(user(), json!([{"op": "add", "path": "emails", "value": [{"value": "x"}]}])),
            Some(ScimType::Mutability)
        );
    }
}
