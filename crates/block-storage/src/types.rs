//! Volume types: the `__DEFAULT__` type every volume without one gets (as
//! Cinder since Train), extra specs, and private types with per-project
//! access (`os-volume-type-access`).

use std::collections::BTreeMap;

use crate::db::types::TypeRow;
use crate::error::{Result, VolumeError};
use crate::{BlockStorage, Caller, db};

pub const DEFAULT_TYPE: &str = "__DEFAULT__";

/// What an update may change.
#[derive(Clone, Debug, Default)]
pub struct TypeUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub is_public: Option<bool>,
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 255 {
        return Err(VolumeError::bad(
            "Invalid input received: Volume type name can not be empty and at most 255 characters.",
        ));
    }
    Ok(())
}

pub(crate) fn check_specs(specs: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in specs {
        if k.is_empty() || k.len() > 255 || v.len() > 255 {
            return Err(VolumeError::bad(
                "Invalid input received: extra specs keys and values must be 1 to 255 characters.",
            ));
        }
    }
    Ok(())
}

impl BlockStorage {
    /// Creates `__DEFAULT__` if missing (at start).
    pub(crate) async fn ensure_default_type(&self) -> Result<()> {
        if db::types::by_name(&self.db, DEFAULT_TYPE).await?.is_some() {
            return Ok(());
        }
        let now = db::now();
        let row = TypeRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: DEFAULT_TYPE.into(),
            description: Some("Default Volume Type".into()),
            is_public: true,
            extra_specs: BTreeMap::new(),
            qos_specs_id: None,
            created_at: now,
            updated_at: now,
        };
        match db::types::insert(&self.db, &row).await {
            Err(VolumeError::Store(store::StoreError::Conflict(_))) | Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A type the caller may see, by id or (as the API allows) name.
    pub async fn get_type(&self, caller: &Caller, id_or_name: &str) -> Result<TypeRow> {
        let row = match db::types::get(&self.db, id_or_name).await? {
            Some(t) => Some(t),
            None => db::types::by_name(&self.db, id_or_name).await?,
        };
        let Some(row) = row else {
            return Err(VolumeError::type_not_found(id_or_name));
        };
        if !row.is_public && !caller.is_admin {
            let allowed = db::types::projects(&self.db, &row.id).await?;
            if !allowed.iter().any(|p| p == &caller.project_id) {
                return Err(VolumeError::type_not_found(id_or_name));
            }
        }
        Ok(row)
    }

    pub async fn default_type(&self) -> Result<TypeRow> {
        db::types::by_name(&self.db, DEFAULT_TYPE)
            .await?
            .ok_or_else(|| VolumeError::Internal("the __DEFAULT__ volume type is missing".into()))
    }

    /// Types the caller may use; `is_public` filters as the API's query does
    /// (admins only: `None` = all).
    pub async fn list_types(&self, caller: &Caller, is_public: Option<bool>) -> Result<Vec<TypeRow>> {
        let all = db::types::list(&self.db).await?;
        if caller.is_admin {
            return Ok(all
                .into_iter()
                .filter(|t| is_public.is_none_or(|p| t.is_public == p))
                .collect());
        }
        let private = db::types::accessible(&self.db, &caller.project_id).await?;
        Ok(all
            .into_iter()
            .filter(|t| t.is_public || private.contains(&t.id))
            .collect())
    }

    pub async fn create_type(
        &self,
        name: &str,
        description: Option<String>,
        is_public: bool,
        extra_specs: BTreeMap<String, String>,
    ) -> Result<TypeRow> {
        check_name(name)?;
        check_specs(&extra_specs)?;
        if db::types::by_name(&self.db, name).await?.is_some() {
            return Err(VolumeError::Conflict(format!("Volume Type {name} already exists.")));
        }
        let now = db::now();
        let row = TypeRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            description,
            is_public,
            extra_specs,
            qos_specs_id: None,
            created_at: now,
            updated_at: now,
        };
        match db::types::insert(&self.db, &row).await {
            Err(VolumeError::Store(store::StoreError::Conflict(_))) => {
                Err(VolumeError::Conflict(format!("Volume Type {name} already exists.")))
            }
            r => r.map(|()| row),
        }
    }

    pub async fn update_type(&self, caller: &Caller, id: &str, u: TypeUpdate) -> Result<TypeRow> {
        let mut row = self.get_type(caller, id).await?;
        if let Some(name) = u.name {
            check_name(&name)?;
            if row.name == DEFAULT_TYPE && name != DEFAULT_TYPE {
                return Err(VolumeError::bad("The default volume type cannot be renamed."));
            }
            if name != row.name && db::types::by_name(&self.db, &name).await?.is_some() {
                return Err(VolumeError::Conflict(format!("Volume Type {name} already exists.")));
            }
            row.name = name;
        }
        if let Some(d) = u.description {
            row.description = d;
        }
        if let Some(p) = u.is_public {
            row.is_public = p;
        }
        db::types::update(&self.db, &row).await?;
        Ok(row)
    }

    pub async fn delete_type(&self, caller: &Caller, id: &str) -> Result<()> {
        let row = self.get_type(caller, id).await?;
        if row.name == DEFAULT_TYPE {
            return Err(VolumeError::bad("Default volume type can not be deleted."));
        }
        if db::types::in_use(&self.db, &row.id).await? {
            return Err(VolumeError::bad("Target volume type is still in use."));
        }
        db::types::delete(&self.db, &row.id).await
    }

    /// Merges `specs` into the type's extra specs.
    pub async fn set_extra_specs(
        &self,
        caller: &Caller,
        id: &str,
        specs: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        check_specs(&specs)?;
        let mut row = self.get_type(caller, id).await?;
        if db::types::in_use(&self.db, &row.id).await?
            && specs
                .keys()
                .any(|k| row.extra_specs.get(k) != specs.get(k) && k == "volume_backend_name")
        {
            return Err(VolumeError::bad("Target volume type is still in use."));
        }
        row.extra_specs.extend(specs);
        db::types::update(&self.db, &row).await?;
        Ok(row.extra_specs)
    }

    pub async fn delete_extra_spec(&self, caller: &Caller, id: &str, key: &str) -> Result<()> {
        let mut row = self.get_type(caller, id).await?;
        if row.extra_specs.remove(key).is_none() {
            return Err(VolumeError::NotFound(format!(
                "Volume Type {} has no extra specs with key {key}.",
                row.id
            )));
        }
        db::types::update(&self.db, &row).await
    }

    pub async fn type_access(&self, caller: &Caller, id: &str) -> Result<Vec<String>> {
        let row = self.get_type(caller, id).await?;
        if row.is_public {
            return Err(VolumeError::NotFound(format!(
                "Volume type access not found for {} combination.",
                row.id
            )));
        }
        db::types::projects(&self.db, &row.id).await
    }

    pub async fn add_type_access(&self, caller: &Caller, id: &str, project: &str) -> Result<()> {
        let row = self.get_type(caller, id).await?;
        if row.is_public {
            return Err(VolumeError::bad(
                "Invalid volume type: Type access modification is not applicable to public volume type.",
            ));
        }
        if !db::types::add_project(&self.db, &row.id, project).await? {
            return Err(VolumeError::Conflict(format!(
                "Volume type access for {} / {project} combination already exists.",
                row.id
            )));
        }
        Ok(())
    }

    pub async fn remove_type_access(&self, caller: &Caller, id: &str, project: &str) -> Result<()> {
        let row = self.get_type(caller, id).await?;
        if row.is_public {
            return Err(VolumeError::bad(
                "Invalid volume type: Type access modification is not applicable to public volume type.",
            ));
        }
        if !db::types::remove_project(&self.db, &row.id, project).await? {
            return Err(VolumeError::NotFound(format!(
                "Volume type access not found for {} / {project} combination.",
                row.id
            )));
        }
        Ok(())
    }
}

impl BlockStorage {
    /// Type id → name, to render volumes and snapshots.
    pub async fn type_names(&self) -> Result<BTreeMap<String, String>> {
        Ok(db::types::list(&self.db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect())
    }
}
