//! TEMPORARY minimal stack (no guard page, no pool); replaced by the real module.
#![allow(missing_docs)]
use memmap2::{MmapMut, MmapOptions};

pub const MIN_STACK_SIZE: usize = 32 * 1024;
pub const DEFAULT_STACK_SIZE: usize = 1024 * 1024;

#[derive(Debug)]
pub enum StackError { TooSmall { requested: usize } }
impl std::fmt::Display for StackError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") } }
impl std::error::Error for StackError {}

pub struct Stack { map: MmapMut }
impl Stack {
    pub fn new(size: usize) -> Result<Stack, StackError> {
        let size = if size == 0 { DEFAULT_STACK_SIZE } else { size };
        if size < MIN_STACK_SIZE { return Err(StackError::TooSmall { requested: size }); }
        Ok(Stack { map: MmapOptions::new().len(size).stack().map_anon().unwrap() })
    }
    pub fn top(&self) -> *mut u8 { self.map.as_ptr().wrapping_add(self.map.len()) as *mut u8 }
    pub fn bottom(&self) -> *mut u8 { self.map.as_ptr() as *mut u8 }
    pub fn size(&self) -> usize { self.map.len() }
    pub fn id(&self) -> u64 { 0 }
    pub fn set_name(&self, _name: Option<&str>) {}
}
pub fn acquire(size: usize) -> Result<Stack, StackError> { Stack::new(size) }
pub fn release(_stack: Stack) {}
pub fn ensure_thread_ready() {}
