//! The SCIM schemas (RFC 7643 §3.1, §4, §8.7.1): the built-in ones as constants, and each server's
//! [`Registry`] of them plus the extensions its configuration defines, with case-insensitive lookups.

use super::catalog::{self, CatalogConfig, CatalogType};
use super::custom_schema::{self, ExtensionConfig};

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// The keyword used for `type` in schema representations.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// Who may write an attribute, and when (RFC 7643 §7 `mutability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute appears in responses (RFC 7643 §7 `returned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// The scope in which a value must be unique (RFC 7643 §7 `uniqueness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition with its RFC 7643 §7 characteristics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeDef {
    pub name: &'static str,
    pub kind: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttributeDef],
    /// The server derives the value (e.g. a user's `groups` from group memberships), so what a
    /// client sends is ignored. Not part of RFC 7643, hence never rendered in `/Schemas`.
    pub computed: bool,
}

impl AttributeDef {
    /// A single-valued, optional, case-insensitive readWrite attribute: the most common shape,
    /// so every definition below only spells out how it differs.
    pub(crate) const fn new(name: &'static str, kind: AttrType, description: &'static str) -> Self {
        AttributeDef {
            name,
            kind,
            multi_valued: false,
            description,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            computed: false,
        }
    }

    const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }

    const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }

    const fn reference(
        name: &'static str,
        description: &'static str,
        reference_types: &'static [&'static str],
    ) -> Self {
        Self::new(name, AttrType::Reference, description).refs(reference_types)
    }

    const fn complex(
        name: &'static str,
        description: &'static str,
        sub_attributes: &'static [AttributeDef],
    ) -> Self {
        let mut def = Self::new(name, AttrType::Complex, description);
        def.sub_attributes = sub_attributes;
        def
    }

    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    const fn needed(mut self) -> Self {
        self.required = true;
        self
    }

    const fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    const fn mutable(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        self
    }

    const fn read_only(self) -> Self {
        self.mutable(Mutability::ReadOnly)
    }

    const fn immutable(self) -> Self {
        self.mutable(Mutability::Immutable)
    }

    const fn returns(mut self, returned: Returned) -> Self {
        self.returned = returned;
        self
    }

    const fn unique(mut self, uniqueness: Uniqueness) -> Self {
        self.uniqueness = uniqueness;
        self
    }

    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    const fn refs(mut self, reference_types: &'static [&'static str]) -> Self {
        self.reference_types = reference_types;
        self
    }

    const fn server_computed(mut self) -> Self {
        self.computed = true;
        self
    }

    /// Case-insensitive sub-attribute lookup (attribute names are case-insensitive, RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        find_in(self.sub_attributes, name)
    }

    pub fn is_complex(&self) -> bool {
        self.kind == AttrType::Complex
    }
}

/// A schema: its URN, a short name and its attribute definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttributeDef],
}

impl SchemaDef {
    /// Case-insensitive lookup of a top-level attribute of this schema.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        find_in(self.attributes, name)
    }
}

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

use AttributeDef as A;

const fn display_sub(description: &'static str) -> AttributeDef {
    A::string("display", description)
}

const fn primary_sub(description: &'static str) -> AttributeDef {
    A::boolean("primary", description)
}

// ---- Common attributes (RFC 7643 §3.1) ----

const META_SUBS: &[AttributeDef] = &[
    A::string("resourceType", "The name of the resource type of the resource.").exact().read_only(),
    A::new("created", AttrType::DateTime, "When the resource was added to the service provider.")
        .read_only(),
    A::new("lastModified", AttrType::DateTime, "When the resource was last changed.").read_only(),
    A::reference("location", "The URI of the resource.", &["uri"]).exact().read_only(),
    A::string("version", "The entity tag of the resource's current version.").exact().read_only(),
];

/// `id`, `externalId` and `meta`: part of every resource but of no schema, so they are
/// resolvable through [`ResourceSchemas::find_attribute`] yet absent from the `/Schemas` documents.
pub static COMMON_ATTRIBUTES: &[AttributeDef] = &[
    A::string("id", "Unique, stable identifier of the resource, assigned by the service provider.")
        .exact()
        .read_only()
        .returns(Returned::Always)
        .unique(Uniqueness::Server),
    A::string("externalId", "Identifier of the resource as defined by the provisioning client.")
        .exact(),
    A::complex("meta", "Resource metadata maintained by the service provider.", META_SUBS)
        .read_only(),
];

// ---- User (RFC 7643 §4.1) ----

const NAME_SUBS: &[AttributeDef] = &[
    A::string("formatted", "The full name, formatted for display."),
    A::string("familyName", "The family name, or last name in most Western languages."),
    A::string("givenName", "The given name, or first name in most Western languages."),
    A::string("middleName", "The middle name(s)."),
    A::string("honorificPrefix", "The honorific prefix(es), or title, e.g. 'Ms.'."),
    A::string("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
];

const EMAIL_SUBS: &[AttributeDef] = &[
    A::string("value", "The email address, canonicalized per RFC 5321."),
    display_sub("A human-readable name for the address."),
    A::string("type", "The kind of address, e.g. 'work' or 'home'.")
        .canonical(&["work", "home", "other"]),
    primary_sub("Whether this is the preferred address; at most one may be true."),
];

const PHONE_SUBS: &[AttributeDef] = &[
    A::string("value", "The phone number, preferably in RFC 3966 form."),
    display_sub("A human-readable name for the number."),
    A::string("type", "The kind of number, e.g. 'work' or 'mobile'.")
        .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    primary_sub("Whether this is the preferred number; at most one may be true."),
];

const IM_SUBS: &[AttributeDef] = &[
    A::string("value", "The instant messaging address."),
    display_sub("A human-readable name for the address."),
    A::string("type", "The instant messaging service.")
        .canonical(&["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
    primary_sub("Whether this is the preferred address; at most one may be true."),
];

const PHOTO_SUBS: &[AttributeDef] = &[
    A::reference("value", "The URL of an image resource.", &["external"]),
    display_sub("A human-readable name for the photo."),
    A::string("type", "The kind of image.").canonical(&["photo", "thumbnail"]),
    primary_sub("Whether this is the preferred photo; at most one may be true."),
];

const ADDRESS_SUBS: &[AttributeDef] = &[
    A::string("formatted", "The full mailing address, formatted for display."),
    A::string("streetAddress", "The street part of the address."),
    A::string("locality", "The city or locality."),
    A::string("region", "The state or region."),
    A::string("postalCode", "The zip or postal code."),
    A::string("country", "The country, as an ISO 3166-1 alpha-2 code."),
    A::string("type", "The kind of address, e.g. 'work' or 'home'.")
        .canonical(&["work", "home", "other"]),
    // Missing from the §8.7.1 listing but defined for every multi-valued attribute by §2.4,
    // and sent by clients, so accepting it avoids spurious invalidSyntax errors.
    primary_sub("Whether this is the preferred address; at most one may be true."),
];

const USER_GROUP_SUBS: &[AttributeDef] = &[
    A::string("value", "The id of the group.").read_only(),
    A::reference("$ref", "The URI of the group.", &["User", "Group"]).read_only(),
    A::string("display", "The display name of the group.").read_only(),
    A::string("type", "Whether membership is direct or through another group.")
        .canonical(&["direct", "indirect"])
        .read_only(),
];

const ENTITLEMENT_SUBS: &[AttributeDef] = &[
    A::string("value", "The entitlement."),
    display_sub("A human-readable name for the entitlement."),
    A::string("type", "The kind of entitlement."),
    primary_sub("Whether this is the primary entitlement; at most one may be true."),
];

const ROLE_SUBS: &[AttributeDef] = &[
    A::string("value", "The role."),
    display_sub("A human-readable name for the role."),
    A::string("type", "The kind of role."),
    primary_sub("Whether this is the primary role; at most one may be true."),
];

const X509_SUBS: &[AttributeDef] = &[
    A::new("value", AttrType::Binary, "The DER-encoded certificate, base64-encoded."),
    display_sub("A human-readable name for the certificate."),
    A::string("type", "The kind of certificate."),
    primary_sub("Whether this is the primary certificate; at most one may be true."),
];

const USER_ATTRIBUTES: &[AttributeDef] = &[
    A::string("userName", "Unique identifier the user signs in with.")
        .needed()
        .unique(Uniqueness::Server),
    A::complex("name", "The components of the user's real name.", NAME_SUBS),
    A::string("displayName", "The name of the user, suitable for display to end users."),
    A::string("nickName", "The casual way to address the user."),
    A::reference("profileUrl", "A URI to the user's online profile.", &["external"]),
    A::string("title", "The user's title, e.g. 'Vice President'."),
    A::string("userType", "The relationship between the organization and the user."),
    A::string("preferredLanguage", "The user's preferred written or spoken language."),
    A::string("locale", "The user's default location, for localizing items such as currency."),
    A::string("timezone", "The user's time zone, in IANA Time Zone database format."),
    A::boolean("active", "The user's administrative status."),
    A::string("password", "The user's cleartext password, only ever written.")
        .mutable(Mutability::WriteOnly)
        .returns(Returned::Never),
    A::complex("emails", "Email addresses for the user.", EMAIL_SUBS).multi(),
    A::complex("phoneNumbers", "Phone numbers for the user.", PHONE_SUBS).multi(),
    A::complex("ims", "Instant messaging addresses for the user.", IM_SUBS).multi(),
    A::complex("photos", "URLs of photos of the user.", PHOTO_SUBS).multi(),
    A::complex("addresses", "Physical mailing addresses for the user.", ADDRESS_SUBS).multi(),
    A::complex(
        "groups",
        "The groups the user belongs to, maintained by the server.",
        USER_GROUP_SUBS,
    )
    .multi()
    .read_only()
    .server_computed(),
    A::complex("entitlements", "Entitlements held by the user.", ENTITLEMENT_SUBS).multi(),
    A::complex("roles", "Roles held by the user.", ROLE_SUBS).multi(),
    A::complex("x509Certificates", "Certificates issued to the user.", X509_SUBS).multi(),
];

pub static USER: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

// ---- Group (RFC 7643 §4.2) ----

const MEMBER_SUBS: &[AttributeDef] = &[
    A::string("value", "The id of the member resource.").immutable(),
    A::reference("$ref", "The URI of the member resource.", &["User", "Group"]).immutable(),
    // RFC 7643 §4.2 mentions `display` but §8.7.1 does not define it. Here it mirrors the member's
    // current name, returned only on request: clients compare the members they sent with the
    // ones they get back, and a 50 000-member group reads faster without it.
    A::string("display", "The display name of the member.")
        .read_only()
        .returns(Returned::Request)
        .server_computed(),
    A::string("type", "The kind of member resource.").canonical(&["User", "Group"]).immutable(),
];

const GROUP_ATTRIBUTES: &[AttributeDef] = &[
    A::string("displayName", "A human-readable name for the group.").needed(),
    A::complex("members", "The members of the group.", MEMBER_SUBS).multi(),
];

pub static GROUP: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};

// ---- Enterprise User extension (RFC 7643 §4.3) ----

const MANAGER_SUBS: &[AttributeDef] = &[
    A::string("value", "The id of the manager's User resource."),
    A::reference("$ref", "The URI of the manager's User resource.", &["User"]),
    A::string("displayName", "The manager's display name.").read_only(),
];

const ENTERPRISE_ATTRIBUTES: &[AttributeDef] = &[
    A::string("employeeNumber", "An identifier assigned by the organization."),
    A::string("costCenter", "The name of a cost center."),
    A::string("organization", "The name of an organization."),
    A::string("division", "The name of a division."),
    A::string("department", "The name of a department."),
    A::complex("manager", "The user's manager.", MANAGER_SUBS),
];

pub static ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRIBUTES,
};

// ---- Okta's Role and Entitlement (entitlement management; read-only catalog items) ----

pub const ROLE_SCHEMA: &str = "urn:okta:scim:schemas:core:1.0:Role";
pub const ENTITLEMENT_SCHEMA: &str = "urn:okta:scim:schemas:core:1.0:Entitlement";

const ROLE_ATTRIBUTES: &[AttributeDef] = &[
    A::string("displayName", "The role's name, as the IdP shows it.").needed(),
    A::string("description", "What the role grants (at most 1000 characters)."),
];

pub static ROLE: SchemaDef = SchemaDef {
    id: ROLE_SCHEMA,
    name: "Role",
    description: "A role of the application that users can hold",
    attributes: ROLE_ATTRIBUTES,
};

const ENTITLEMENT_ATTRIBUTES: &[AttributeDef] = &[
    A::string("displayName", "The entitlement's name, as the IdP shows it.").needed(),
    A::string("type", "The entitlement's resource type name (e.g. License).").needed().read_only(),
    A::string("description", "What the entitlement grants (at most 1000 characters)."),
];

pub static ENTITLEMENT: SchemaDef = SchemaDef {
    id: ENTITLEMENT_SCHEMA,
    name: "Entitlement",
    description: "An entitlement of the application that users can hold",
    attributes: ENTITLEMENT_ATTRIBUTES,
};

/// The resource types this server exposes (RFC 7643 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

    pub fn core(self) -> &'static SchemaDef {
        match self {
            ResourceKind::User => &USER,
            ResourceKind::Group => &GROUP,
        }
    }

    /// The endpoint path relative to the SCIM base URL.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    /// The resource type name, used for `meta.resourceType` and the ResourceType `id`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ResourceKind::User => "User Account",
            ResourceKind::Group => "Group",
        }
    }

    /// True for types whose `members` are other resources (RFC 7643 §4.2).
    pub fn has_members(self) -> bool {
        matches!(self, ResourceKind::Group)
    }

    /// Case-insensitive lookup by resource type name.
    pub fn from_name(name: &str) -> Option<ResourceKind> {
        Self::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

fn find_in<'a>(attributes: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
    attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// The schemas of one server: the built-in ones plus the extensions of its configuration, and
/// the catalog types (Okta's Role and the configured entitlement types) it serves. Built once at
/// start-up ([`Registry::configured`]) and carried in the application state, so two servers in
/// one process may serve different extensions.
#[derive(Debug, Clone)]
pub struct Registry {
    /// In `/Schemas` order.
    all: Vec<&'static SchemaDef>,
    user: ResourceSchemas,
    group: ResourceSchemas,
    catalog: Vec<CatalogType>,
}

/// The enterprise extension, the only one a server without configured extensions has.
const BUILTIN_USER_EXTENSIONS: &[&SchemaDef] = &[&ENTERPRISE_USER];

impl Registry {
    /// The built-in schemas only.
    pub fn builtin() -> Registry {
        Registry {
            all: vec![&USER, &ENTERPRISE_USER, &GROUP],
            user: ResourceSchemas { core: &USER, extensions: BUILTIN_USER_EXTENSIONS },
            group: ResourceSchemas { core: &GROUP, extensions: &[] },
            catalog: Vec::new(),
        }
    }

    /// The built-in schemas plus `configs`, without catalog types.
    pub fn new(configs: &[ExtensionConfig]) -> Result<Registry, String> {
        Registry::configured(configs, &CatalogConfig::default())
    }

    /// The built-in schemas, the catalog types of `catalog` and the extensions of `configs`, each
    /// checked. Like the configured schemas themselves (see [`custom_schema::build`]), the
    /// extension lists live as long as the process: a server builds its registry once, and
    /// `'static` schemas copy freely into blocking tasks.
    pub fn configured(
        configs: &[ExtensionConfig],
        catalog: &CatalogConfig,
    ) -> Result<Registry, String> {
        let types = catalog::types(catalog)?;
        let mut all = Registry::builtin().all;
        if types.iter().any(|t| t.is_role()) {
            all.push(&ROLE);
        }
        if types.iter().any(|t| !t.is_role()) {
            all.push(&ENTITLEMENT);
        }
        let mut user = BUILTIN_USER_EXTENSIONS.to_vec();
        let mut group = Vec::new();
        let mut by_type: Vec<Vec<&'static SchemaDef>> = vec![Vec::new(); types.len()];
        for config in configs {
            if all.iter().any(|s| s.id.eq_ignore_ascii_case(&config.id)) {
                return Err(format!("schema {} is defined twice", config.id));
            }
            let ext = custom_schema::build(config)?;
            let target = &config.resource_type;
            match ResourceKind::from_name(target) {
                Some(ResourceKind::User) => user.push(ext.schema),
                Some(ResourceKind::Group) => group.push(ext.schema),
                None => match types.iter().position(|t| t.id.eq_ignore_ascii_case(target)) {
                    Some(at) => by_type[at].push(ext.schema),
                    None => {
                        return Err(format!(
                            "schema extension {}: resourceType '{target}' must be User, Group or \
                             a catalog type this server serves",
                            config.id
                        ));
                    }
                },
            }
            all.push(ext.schema);
        }
        let leak = |list: Vec<&'static SchemaDef>| -> &'static [&'static SchemaDef] {
            Box::leak(list.into_boxed_slice())
        };
        let catalog = types
            .into_iter()
            .zip(by_type)
            .map(|(t, extensions)| t.with_extensions(leak(extensions)))
            .collect();
        Ok(Registry {
            all,
            user: ResourceSchemas { core: &USER, extensions: leak(user) },
            group: ResourceSchemas { core: &GROUP, extensions: leak(group) },
            catalog,
        })
    }

    /// The schemas of one resource type.
    pub fn resource(&self, kind: ResourceKind) -> ResourceSchemas {
        match kind {
            ResourceKind::User => self.user,
            ResourceKind::Group => self.group,
        }
    }

    /// Every `/Schemas` entry (RFC 7643 §7) in the order they are listed.
    pub fn all(&self) -> &[&'static SchemaDef] {
        &self.all
    }

    /// Case-insensitive lookup of a schema by URN.
    pub fn schema(&self, id: &str) -> Option<&'static SchemaDef> {
        self.all.iter().copied().find(|s| s.id.eq_ignore_ascii_case(id))
    }

    /// The catalog types this server serves: the Role type first when enabled, then the
    /// entitlement types in configuration order.
    pub fn catalog(&self) -> &[CatalogType] {
        &self.catalog
    }

    /// A catalog type by its id (`Role`, `License`), matched case-insensitively.
    pub fn catalog_type(&self, id: &str) -> Option<&CatalogType> {
        self.catalog.iter().find(|t| t.id.eq_ignore_ascii_case(id))
    }

    /// Whether users' `roles` (or `entitlements`) are held as rows checked against the catalog,
    /// rather than stored as free-form values.
    pub fn catalog_backs(&self, user_attribute: &str) -> bool {
        self.catalog.iter().any(|t| t.user_attribute().eq_ignore_ascii_case(user_attribute))
    }
}

/// One resource type with the schemas its resources may carry: a small `Copy` value, so the pure
/// engines (normalisation, projection, filters, PATCH) take it instead of reaching for a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceSchemas {
    core: &'static SchemaDef,
    extensions: &'static [&'static SchemaDef],
}

impl ResourceSchemas {
    /// A type's schemas (for catalog types, whose extensions the registry gathers).
    pub(crate) fn of(
        core: &'static SchemaDef,
        extensions: &'static [&'static SchemaDef],
    ) -> ResourceSchemas {
        ResourceSchemas { core, extensions }
    }

    pub fn core(self) -> &'static SchemaDef {
        self.core
    }

    /// Extension schemas a resource of this kind may carry.
    pub fn extensions(self) -> &'static [&'static SchemaDef] {
        self.extensions
    }

    /// The extension schema of this kind with the given URN (case-insensitive).
    pub fn extension(self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions.iter().copied().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Case-insensitive lookup; `urn` None or the core URN = core schema; `sub` a sub-attribute.
    ///
    /// The common attributes (`id`, `externalId`, `meta`) resolve in the core namespace because
    /// that is where they live in a resource's JSON.
    pub fn find_attribute(
        self,
        urn: Option<&str>,
        name: &str,
        sub: Option<&str>,
    ) -> Option<&'static AttributeDef> {
        let core = self.core();
        let top = match urn {
            Some(urn) if !urn.eq_ignore_ascii_case(core.id) => {
                find_in(self.extension(urn)?.attributes, name)?
            }
            _ => find_in(COMMON_ATTRIBUTES, name).or_else(|| find_in(core.attributes, name))?,
        };
        match sub {
            None => Some(top),
            Some(sub) => find_in(top.sub_attributes, sub),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_attribute(
        kind: ResourceKind,
        urn: Option<&str>,
        name: &str,
        sub: Option<&str>,
    ) -> Option<&'static AttributeDef> {
        Registry::builtin().resource(kind).find_attribute(urn, name, sub)
    }

    #[test]
    fn lookups_are_case_insensitive_and_namespaced() {
        /// kind, urn, name, sub → canonical name found.
        type Case<'a> = (ResourceKind, Option<&'a str>, &'a str, Option<&'a str>, Option<&'a str>);
        let upper = USER_SCHEMA.to_ascii_uppercase();
        let cases: &[Case] = &[
            (ResourceKind::User, None, "USERNAME", None, Some("userName")),
            (ResourceKind::User, Some(USER_SCHEMA), "name", Some("GIVENNAME"), Some("givenName")),
            (ResourceKind::User, Some(&upper), "id", None, Some("id")),
            (ResourceKind::User, None, "meta", Some("lastmodified"), Some("lastModified")),
            (ResourceKind::User, None, "externalid", None, Some("externalId")),
            (ResourceKind::User, Some(ENTERPRISE_USER_SCHEMA), "Manager", None, Some("manager")),
            (
                ResourceKind::User,
                Some(ENTERPRISE_USER_SCHEMA),
                "manager",
                Some("displayname"),
                Some("displayName"),
            ),
            (ResourceKind::User, None, "department", None, None),
            (ResourceKind::User, Some(ENTERPRISE_USER_SCHEMA), "userName", None, None),
            (ResourceKind::User, Some("urn:example:unknown"), "userName", None, None),
            (ResourceKind::User, None, "name", Some("nope"), None),
            (ResourceKind::Group, None, "members", Some("$REF"), Some("$ref")),
            (ResourceKind::Group, None, "id", None, Some("id")),
            (ResourceKind::Group, Some(ENTERPRISE_USER_SCHEMA), "department", None, None),
            (ResourceKind::Group, None, "userName", None, None),
        ];
        for (kind, urn, name, sub, expected) in cases {
            let found = find_attribute(*kind, *urn, name, *sub).map(|a| a.name);
            assert_eq!(found, *expected, "{kind:?} {urn:?} {name} {sub:?}");
        }
    }

    #[test]
    fn characteristics_follow_rfc_7643() {
        let user = |name, sub| find_attribute(ResourceKind::User, None, name, sub);
        let user_name = user("userName", None);
        assert!(user_name.is_some_and(|a| a.required && a.uniqueness == Uniqueness::Server));
        let password = user("password", None);
        assert!(password.is_some_and(
            |a| a.mutability == Mutability::WriteOnly && a.returned == Returned::Never
        ));
        let groups = user("groups", None);
        assert!(groups.is_some_and(|a| a.multi_valued
            && a.computed
            && a.mutability == Mutability::ReadOnly
            && a.sub_attributes.len() == 4));
        let id = user("id", None);
        assert!(id.is_some_and(|a| a.case_exact
            && a.returned == Returned::Always
            && a.mutability == Mutability::ReadOnly));
        assert!(
            user("externalId", None)
                .is_some_and(|a| a.case_exact && a.mutability == Mutability::ReadWrite)
        );
        assert!(user("meta", Some("created")).is_some_and(|a| a.kind == AttrType::DateTime));
        assert!(user("profileUrl", None).is_some_and(|a| a.reference_types == ["external"]));
        assert!(
            user("x509Certificates", Some("value")).is_some_and(|a| a.kind == AttrType::Binary)
        );

        let member = |sub| find_attribute(ResourceKind::Group, None, "members", Some(sub));
        assert!(member("value").is_some_and(|a| a.mutability == Mutability::Immutable));
        assert!(
            member("display").is_some_and(|a| a.mutability == Mutability::ReadOnly && a.computed)
        );
        assert!(member("type").is_some_and(|a| a.canonical_values == ["User", "Group"]));
        assert!(GROUP.attribute("displayName").is_some_and(|a| a.required));

        let manager = ENTERPRISE_USER.attribute("manager");
        assert!(
            manager
                .and_then(|m| m.sub_attribute("displayName"))
                .is_some_and(|a| a.mutability == Mutability::ReadOnly)
        );
    }

    #[test]
    fn resource_kinds() {
        assert_eq!(ResourceKind::from_name("user"), Some(ResourceKind::User));
        assert_eq!(ResourceKind::from_name("GROUP"), Some(ResourceKind::Group));
        assert_eq!(ResourceKind::from_name("Users"), None);
        assert_eq!(ResourceKind::User.endpoint(), "/Users");
        let registry = Registry::builtin();
        assert_eq!(registry.resource(ResourceKind::Group).extensions().len(), 0);
        assert_eq!(
            registry
                .resource(ResourceKind::User)
                .extension(&ENTERPRISE_USER_SCHEMA.to_uppercase())
                .map(|s| s.name),
            Some("EnterpriseUser")
        );
        assert_eq!(registry.schema(GROUP_SCHEMA).map(|s| s.name), Some("Group"));
    }

    #[test]
    fn names_are_unique_within_each_level() {
        fn check(attrs: &[AttributeDef]) {
            for (i, a) in attrs.iter().enumerate() {
                assert!(
                    attrs[i + 1..].iter().all(|b| !b.name.eq_ignore_ascii_case(a.name)),
                    "duplicate {}",
                    a.name
                );
                assert_eq!(a.is_complex(), !a.sub_attributes.is_empty(), "{}", a.name);
                assert_eq!(
                    a.kind == AttrType::Reference,
                    !a.reference_types.is_empty(),
                    "{}",
                    a.name
                );
                check(a.sub_attributes);
            }
        }
        for schema in Registry::builtin().all() {
            check(schema.attributes);
            assert!(
                schema
                    .attributes
                    .iter()
                    .all(|a| COMMON_ATTRIBUTES.iter().all(|c| c.name != a.name))
            );
        }
        check(COMMON_ATTRIBUTES);
    }

    fn extension(id: &str, resource_type: &str) -> ExtensionConfig {
        let text = format!(
            "id = \"{id}\"\nresourceType = \"{resource_type}\"\nname = \"X\"\n\
             [[attributes]]\nname = \"badge\"\ntype = \"integer\"\n"
        );
        toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn registries_are_values_with_their_own_extensions() {
        let acme = "urn:acme:params:scim:schemas:extension:acme:2.0:User";
        let team = "urn:acme:params:scim:schemas:extension:team:2.0:Group";
        let with = Registry::new(&[extension(acme, "User"), extension(team, "group")]).unwrap();
        let without = Registry::new(&[]).unwrap();
        let ids = |r: &Registry| r.all().iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(&with), [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, acme, team]);
        assert_eq!(ids(&without), ids(&Registry::builtin()));
        let user = with.resource(ResourceKind::User);
        assert_eq!(user.extensions().len(), 2);
        assert!(user.find_attribute(Some(acme), "BADGE", None).is_some());
        assert!(with.resource(ResourceKind::Group).extension(team).is_some());
        // The other registry, alive at the same time, knows nothing of them.
        let plain = without.resource(ResourceKind::User);
        assert!(
            plain.extension(acme).is_none()
                && plain.find_attribute(Some(acme), "badge", None).is_none()
        );
        assert!(without.schema(team).is_none());
        let twice =
            Registry::new(&[extension(acme, "User"), extension(&acme.to_uppercase(), "User")]);
        assert!(twice.err().unwrap_or_default().contains("defined twice"));
        let builtin = Registry::new(&[extension(ENTERPRISE_USER_SCHEMA, "User")]);
        assert!(builtin.is_err());
    }

    #[test]
    fn catalog_types_bring_okta_schemas_and_take_extensions_of_their_own() {
        use crate::scim::catalog::{CatalogConfig, EntitlementTypeConfig};
        let profile = "urn:acme:scim:schemas:extension:app:1.0:Profile";
        let catalog = CatalogConfig {
            roles: true,
            entitlement_types: vec![EntitlementTypeConfig {
                id: "Profile".into(),
                name: "Profile".into(),
                endpoint: "/Profiles".into(),
                description: String::new(),
            }],
        };
        let registry = Registry::configured(&[extension(profile, "profile")], &catalog).unwrap();
        let ids: Vec<&str> = registry.all().iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [
                USER_SCHEMA,
                ENTERPRISE_USER_SCHEMA,
                GROUP_SCHEMA,
                ROLE_SCHEMA,
                ENTITLEMENT_SCHEMA,
                profile
            ]
        );
        let t = registry.catalog_type("PROFILE").unwrap();
        assert_eq!(t.schemas.extensions().len(), 1);
        assert!(t.schemas.find_attribute(Some(profile), "badge", None).is_some());
        assert!(registry.catalog_backs("roles") && registry.catalog_backs("Entitlements"));
        // Users and groups are not extended by it.
        assert!(registry.resource(ResourceKind::User).extension(profile).is_none());
        // Roles only: no Entitlement schema, and `entitlements` stay free-form.
        let roles = CatalogConfig { roles: true, entitlement_types: Vec::new() };
        let only = Registry::configured(&[], &roles).unwrap();
        assert!(only.schema(ENTITLEMENT_SCHEMA).is_none() && only.schema(ROLE_SCHEMA).is_some());
        assert!(!only.catalog_backs("entitlements"));
        // An extension of a type the server does not serve is refused.
        let err = Registry::configured(&[extension(profile, "Device")], &roles).unwrap_err();
        assert!(err.contains("resourceType 'Device'"), "{err}");
        assert!(Registry::new(&[]).unwrap().catalog().is_empty());
    }
}
