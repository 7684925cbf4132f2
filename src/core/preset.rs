//! Everything pglane knows of the reference application: its factories (`presets/reference.yaml`,
//! behind the `createWorkerScoped*` functions) and the tables of its typed `track*` helpers.

use crate::core::error::{Error, ErrorCode, Result};
use crate::core::factory::definition::{FactoryFile, FactoryRegistry};
use std::sync::Arc;

/// The name users give the reference preset (`preset: 'reference'`).
pub const NAME: &str = "reference";

/// The reference application's factory file, as shipped (`presets/reference.yaml`).
pub const YAML: &str = include_str!("../../presets/reference.yaml");

/// The factory file of the preset called `name` (`"reference"`), to merge with a user's.
pub fn file(name: &str) -> Result<FactoryFile> {
    if name == NAME {
        FactoryFile::from_yaml(YAML)
    } else {
        Err(Error::new(
            ErrorCode::FactoryDefinition,
            format!("no preset named {name:?}; pglane ships {NAME:?}"),
        ))
    }
}

/// The reference application's factories, shipped with pglane (parsed once per process).
pub fn registry() -> Arc<FactoryRegistry> {
    static PRESET: std::sync::OnceLock<Arc<FactoryRegistry>> = std::sync::OnceLock::new();
    PRESET
        .get_or_init(|| {
            Arc::new(FactoryRegistry::from_yaml(YAML).expect("the shipped preset is valid"))
        })
        .clone()
}

/// The tables of the typed `track*` helpers, by helper.
pub mod tables {
    /// `trackAuthUser`.
    pub const AUTH_USER: &str = "auth.users";
    /// `trackProfile`.
    pub const PROFILE: &str = "public.profiles";
    /// `trackOrganization`.
    pub const ORGANIZATION: &str = "public.organizations";
    /// `trackOrgMember`.
    pub const ORG_MEMBER: &str = "public.organization_members";
    /// `trackGroup`.
    pub const GROUP: &str = "public.groups";
    /// `trackGroupMember`.
    pub const GROUP_MEMBER: &str = "public.group_members";
    /// `trackModel`.
    pub const MODEL: &str = "public.models";
    /// `trackGroupModel`.
    pub const GROUP_MODEL: &str = "public.group_models";
    /// `trackInvite`.
    pub const INVITE: &str = "public.invites";
    /// `trackConversation`.
    pub const CONVERSATION: &str = "public.conversations";
    /// `trackMessage`.
    pub const MESSAGE: &str = "public.messages";
}
