//! Extension schemas defined by the operator in configuration (`[[schema_extensions]]`), so a
//! vendor can map an IdP's custom attributes to its own URN. The keys are RFC 7643 §7's attribute
//! characteristics, spelled as `/Schemas` shows them, so a definition reads the same in both places.

use serde::Deserialize;

use super::schema::{AttrType, AttributeDef, Mutability, Returned, SchemaDef, Uniqueness};

/// One extension schema as written in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtensionConfig {
    /// The schema URN, e.g. `urn:acme:params:scim:schemas:extension:acme:2.0:User`.
    pub id: String,
    /// The resource type it extends: `User`, `Group`, or a catalog type (`Role`, an entitlement
    /// type's id); the registry checks it.
    pub resource_type: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub attributes: Vec<AttributeConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttributeConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default = "read_write")]
    pub mutability: String,
    #[serde(default = "default_returned")]
    pub returned: String,
    #[serde(default = "no_uniqueness")]
    pub uniqueness: String,
    #[serde(default)]
    pub canonical_values: Vec<String>,
    #[serde(default)]
    pub reference_types: Vec<String>,
    #[serde(default)]
    pub sub_attributes: Vec<AttributeConfig>,
}

fn read_write() -> String {
    "readWrite".into()
}
fn default_returned() -> String {
    "default".into()
}
fn no_uniqueness() -> String {
    "none".into()
}

/// A checked extension, ready for the registry: its schema lives for the whole process.
#[derive(Debug, Clone, Copy)]
pub struct Extension {
    pub schema: &'static SchemaDef,
}

/// Checks a definition and turns it into a process-lifetime schema. Configuration is read once
/// at startup, so the one-time leak is what makes custom schemas as cheap to use as built-in ones.
pub fn build(config: &ExtensionConfig) -> Result<Extension, String> {
    let context = |e: String| format!("schema extension {}: {e}", config.id);
    if !config.id.to_ascii_lowercase().starts_with("urn:") || config.id.ends_with(':') {
        return Err(context("id must be a URN (urn:…)".into()));
    }
    if config.id.to_ascii_lowercase().starts_with("urn:ietf:params:scim:") {
        return Err(context(
            "urn:ietf:params:scim: URNs are reserved for the standard schemas".into(),
        ));
    }
    if config.attributes.is_empty() {
        return Err(context("needs at least one attribute".into()));
    }
    let attributes = attributes(&config.attributes, true).map_err(context)?;
    Ok(Extension {
        schema: Box::leak(Box::new(SchemaDef {
            id: leak(&config.id),
            name: leak(&config.name),
            description: leak(&config.description),
            attributes,
        })),
    })
}

fn attributes(configs: &[AttributeConfig], top: bool) -> Result<&'static [AttributeDef], String> {
    let mut defs = Vec::with_capacity(configs.len());
    for (i, config) in configs.iter().enumerate() {
        if configs[..i].iter().any(|c| c.name.eq_ignore_ascii_case(&config.name)) {
            return Err(format!("attribute '{}' is defined twice", config.name));
        }
        defs.push(attribute(config, top).map_err(|e| format!("attribute '{}': {e}", config.name))?);
    }
    Ok(Box::leak(defs.into_boxed_slice()))
}

fn attribute(config: &AttributeConfig, top: bool) -> Result<AttributeDef, String> {
    if !valid_name(&config.name) {
        return Err("names start with a letter and hold letters, digits, '-' and '_'".into());
    }
    let kind = parse_type(&config.kind)?;
    let sub_attributes = match (kind, top) {
        (AttrType::Complex, true) if config.sub_attributes.is_empty() => {
            return Err("a complex attribute needs subAttributes".into());
        }
        (AttrType::Complex, true) => attributes(&config.sub_attributes, false)?,
        (AttrType::Complex, false) => {
            return Err("sub-attributes cannot be complex (RFC 7643 §2.3.8)".into());
        }
        _ if !config.sub_attributes.is_empty() => {
            return Err("only complex attributes have subAttributes".into());
        }
        _ => &[],
    };
    Ok(AttributeDef {
        name: leak(&config.name),
        kind,
        multi_valued: config.multi_valued,
        description: leak(&config.description),
        required: config.required,
        case_exact: config.case_exact,
        mutability: parse_mutability(&config.mutability)?,
        returned: parse_returned(&config.returned)?,
        uniqueness: parse_uniqueness(&config.uniqueness)?,
        canonical_values: leak_all(&config.canonical_values),
        reference_types: leak_all(&config.reference_types),
        sub_attributes,
        computed: false,
    })
}

/// RFC 7643 §2.1 ATTRNAME: ALPHA *(nameChar).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn parse_type(text: &str) -> Result<AttrType, String> {
    let all = [
        AttrType::String,
        AttrType::Boolean,
        AttrType::Decimal,
        AttrType::Integer,
        AttrType::DateTime,
        AttrType::Binary,
        AttrType::Reference,
        AttrType::Complex,
    ];
    all.into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("unknown type '{text}'"))
}

fn parse_mutability(text: &str) -> Result<Mutability, String> {
    [Mutability::ReadOnly, Mutability::ReadWrite, Mutability::Immutable, Mutability::WriteOnly]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("unknown mutability '{text}'"))
}

fn parse_returned(text: &str) -> Result<Returned, String> {
    [Returned::Always, Returned::Never, Returned::Default, Returned::Request]
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("unknown returned '{text}'"))
}

fn parse_uniqueness(text: &str) -> Result<Uniqueness, String> {
    [Uniqueness::None, Uniqueness::Server, Uniqueness::Global]
        .into_iter()
        .find(|u| u.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("unknown uniqueness '{text}'"))
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

fn leak_all(items: &[String]) -> &'static [&'static str] {
    Box::leak(items.iter().map(|s| leak(s)).collect::<Vec<_>>().into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Extension, String> {
        let config: ExtensionConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        build(&config)
    }

    const GOOD: &str = r#"
        id = "urn:acme:params:scim:schemas:extension:acme:2.0:User"
        resourceType = "User"
        name = "AcmeUser"
        [[attributes]]
        name = "badgeNumber"
        type = "integer"
        [[attributes]]
        name = "hireDate"
        type = "dateTime"
        [[attributes]]
        name = "costCode"
        type = "string"
        caseExact = true
        [[attributes]]
        name = "desk"
        type = "complex"
        [[attributes.subAttributes]]
        name = "building"
        type = "string"
    "#;

    #[test]
    fn a_good_definition_becomes_a_schema() {
        let ext = parse(GOOD).map_err(|e| e.to_string());
        let ext = ext.as_ref().ok();
        let schema = ext.map(|e| e.schema);
        assert_eq!(
            schema.and_then(|s| s.attribute("BADGENUMBER")).map(|a| a.kind),
            Some(AttrType::Integer)
        );
        assert!(schema.and_then(|s| s.attribute("costCode")).is_some_and(|a| a.case_exact));
        let desk = schema.and_then(|s| s.attribute("desk"));
        assert!(desk.and_then(|d| d.sub_attribute("building")).is_some());
        assert_eq!(desk.map(|d| d.mutability), Some(Mutability::ReadWrite));
    }

    #[test]
    fn bad_definitions_are_refused_with_a_reason() {
        let cases = [
            (GOOD.replace("urn:acme:params", "acme:params"), "URN"),
            (GOOD.replace("urn:acme:params", "urn:ietf:params:scim"), "reserved"),
            (GOOD.replace("\"integer\"", "\"int\""), "unknown type"),
            (GOOD.replace("\"hireDate\"", "\"badgeNumber\""), "twice"),
            (GOOD.replace("\"costCode\"", "\"2fa\""), "names start"),
            (
                GOOD.replace(
                    "name = \"building\"\n        type = \"string\"",
                    "name = \"x\"\n        type = \"complex\"",
                ),
                "cannot be complex",
            ),
            (format!("{GOOD}\n        colour = 1"), "unknown field"),
        ];
        for (text, expected) in cases {
            let err = parse(&text).err().unwrap_or_default();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
