//! Decoding guest code with iced-x86 into cached blocks.
//!
//! A block is a run of instructions from one physical page, decoded once and
//! kept until the page is written. Blocks are keyed by (physical address,
//! EIP, code size): EIP is part of the key so that iced's IP-relative values
//! (branch targets, next IP) are right for every execution of the block.
//! An instruction that straddles two pages is decoded afresh every time.

use crate::access::Access;
use crate::fault::{Fault, Res};
use crate::interp::{handler_for, Handler};
use crate::state::SegReg;
use crate::{Bus, Cpu};
use iced_x86::{Code, Decoder, DecoderOptions, Instruction};
use mem::{PAGE_MASK, PAGE_SHIFT};
use std::collections::HashMap;
use std::rc::Rc;

/// Longest block, in instructions.
const MAX_BLOCK: usize = 64;

/// One decoded instruction and its handler.
#[derive(Clone, Debug)]
pub(crate) struct DecodedInsn {
    pub instr: Instruction,
    pub handler: Handler,
    /// Operands resolved at decode time.
    pub pre: crate::interp::ops::Pre,
    /// EIP of the following instruction.
    pub next_eip: u32,
}

/// A decoded block.
#[derive(Debug)]
pub(crate) struct Block {
    pub insns: Vec<DecodedInsn>,
    /// EIP offset of the last byte of the block (for the CS limit check).
    pub last_eip: u32,
    /// False once the block's code was written or the cache was flushed.
    pub valid: std::cell::Cell<bool>,
    /// The blocks that followed this one, by EIP (a taken and a fall-through
    /// successor): the run loop follows these links instead of translating
    /// EIP and searching the cache, as long as nothing that could change
    /// the translation happened in between (see `Cpu::run_block`).
    pub next: [std::cell::RefCell<Link>; 2],
}

/// A successor link: the EIP it starts at and the block.
pub(crate) type Link = Option<(u32, std::rc::Weak<Block>)>;

impl Block {
    fn new(insns: Vec<DecodedInsn>, last_eip: u32) -> Self {
        Self {
            insns,
            last_eip,
            valid: std::cell::Cell::new(true),
            next: Default::default(),
        }
    }

    /// The successor starting at `eip`, if linked and still valid.
    #[inline]
    pub fn successor(&self, eip: u32) -> Option<Rc<Block>> {
        for slot in &self.next {
            if let Some((e, w)) = &*slot.borrow() {
                if *e == eip {
                    return w.upgrade().filter(|b| b.valid.get());
                }
            }
        }
        None
    }

    /// Remember `b` as the successor at `eip`.
    pub fn link(&self, eip: u32, b: &Rc<Block>) {
        let i = usize::from(self.next[0].borrow().is_some() && self.next[1].borrow().is_none());
        *self.next[i].borrow_mut() = Some((eip, Rc::downgrade(b)));
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Key {
    phys: u64,
    eip: u32,
    code32: bool,
}

/// A multiplicative hasher for block keys (the default SipHash showed up
/// at 10% of the interpreter's time).
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// One slot of the front cache.
type FrontSlot = Option<(Key, Rc<Block>)>;

/// Slots in the direct-mapped front cache.
const FRONT: usize = 4096;

/// The decoded-block cache: a direct-mapped front array indexed by EIP and
/// physical address, backed by a hash map of every block.
#[derive(Debug)]
pub(crate) struct DecodeCache {
    front: Box<[FrontSlot]>,
    blocks: FastMap<Key, Rc<Block>>,
    /// RAM page -> keys of blocks decoded from it.
    by_page: FastMap<u64, Vec<Key>>,
}

impl Default for DecodeCache {
    fn default() -> Self {
        Self {
            front: vec![None; FRONT].into_boxed_slice(),
            blocks: FastMap::default(),
            by_page: FastMap::default(),
        }
    }
}

impl DecodeCache {
    pub fn clear(&mut self) {
        for b in self.blocks.values() {
            b.valid.set(false);
        }
        self.front.fill(None);
        self.blocks.clear();
        self.by_page.clear();
    }

    #[inline]
    fn slot(k: &Key) -> usize {
        ((k.phys as usize) ^ (k.phys as usize >> 12) ^ usize::from(k.code32)) % FRONT
    }

    #[inline]
    fn get(&mut self, k: &Key) -> Option<&Rc<Block>> {
        let i = Self::slot(k);
        if matches!(&self.front[i], Some((fk, _)) if fk == k) {
            return self.front[i].as_ref().map(|(_, b)| b);
        }
        let b = self.blocks.get(k)?;
        self.front[i] = Some((*k, b.clone()));
        self.front[i].as_ref().map(|(_, b)| b)
    }

    /// Drop the blocks of RAM page `page` that overlap the written code
    /// granules `mask` (see `mem::CODE_GRANULE`); returns how many.
    pub fn invalidate(&mut self, page: u64, mask: u64) -> u64 {
        let Some(keys) = self.by_page.get_mut(&page) else {
            return 0;
        };
        let mut n = 0;
        let blocks = &mut self.blocks;
        let front = &mut self.front;
        keys.retain(|k| {
            let Some(b) = blocks.get(k) else { return false };
            let lo = k.phys & mem::PAGE_MASK;
            let hi = (lo + u64::from(b.last_eip.wrapping_sub(k.eip))).min(mem::PAGE_MASK);
            let g = mem::CODE_GRANULE;
            let covered = (lo / g..=hi / g).fold(0u64, |m, i| m | 1 << i);
            if covered & mask == 0 {
                return true;
            }
            b.valid.set(false);
            blocks.remove(k);
            let i = Self::slot(k);
            if matches!(&front[i], Some((fk, _)) if fk == k) {
                front[i] = None;
            }
            n += 1;
            false
        });
        if keys.is_empty() {
            self.by_page.remove(&page);
        }
        n
    }
}

pub(crate) fn fetch_block(cpu: &mut Cpu, bus: &mut Bus) -> Res<Rc<Block>> {
    let code32 = cpu.state.code32();
    let eip = cpu.state.eip;
    let cs = *cpu.state.seg(SegReg::Cs);
    if eip > cs.limit {
        return Err(Fault::GP0);
    }
    let lin = cs.base.wrapping_add(eip);
    if cpu.watch == Some(lin) {
        cpu.watch_hit = true;
    }
    let user = cpu.user_mode();
    let phys = cpu.translate(bus, lin, Access::Exec, user)?;
    let phys = bus.mem.mask_a20(phys);
    let key = Key {
        phys: phys.0,
        eip,
        code32,
    };
    if let Some(b) = cpu.cache.get(&key) {
        if b.last_eip <= cs.limit {
            return Ok(b.clone());
        }
    }
    // Decode from the rest of the page.
    let room = (PAGE_MASK + 1 - phys.offset()) as usize;
    let mut buf = vec![0u8; room.min(MAX_BLOCK * 15)];
    bus.mem.read(phys, &mut buf);
    let bitness = if code32 { 32 } else { 16 };
    let mut dec = Decoder::with_ip(bitness, &buf, u64::from(eip), DecoderOptions::NONE);
    let mut insns = Vec::new();
    let mut last_eip = eip;
    let mut instr = Instruction::default();
    while dec.can_decode() && insns.len() < MAX_BLOCK {
        let pos = dec.position();
        dec.decode_out(&mut instr);
        if instr.code() == Code::INVALID && dec.last_error() == iced_x86::DecoderError::NoMoreBytes {
            // Runs past the page (or the buffer): decode it on its own.
            if insns.is_empty() {
                return straddling(cpu, bus, lin, eip, code32, &cs);
            }
            break;
        }
        let end = eip.wrapping_add((pos + instr.len()) as u32).wrapping_sub(1);
        if end > cs.limit || (!code32 && end > 0xffff) {
            if insns.is_empty() {
                return Err(Fault::GP0);
            }
            break;
        }
        last_eip = end;
        let handler = handler_for(&instr);
        let next_eip = if code32 {
            end.wrapping_add(1)
        } else {
            end.wrapping_add(1) & 0xffff
        };
        let stop = ends_block(&instr);
        insns.push(DecodedInsn {
            instr,
            handler,
            pre: crate::interp::ops::Pre::of(&instr),
            next_eip,
        });
        if stop {
            break;
        }
    }
    if insns.is_empty() {
        return straddling(cpu, bus, lin, eip, code32, &cs);
    }
    let block = Rc::new(Block::new(insns, last_eip));
    cpu.stats.blocks_decoded += 1;
    let bytes = u64::from(last_eip.wrapping_sub(eip)) + 1;
    cpu.mark_code(bus, phys, bytes);
    if matches!(bus.mem.region(phys), mem::Region::Ram(_) | mem::Region::Rom(_)) {
        cpu.cache
            .by_page
            .entry(phys.0 >> PAGE_SHIFT)
            .or_default()
            .push(key);
        cpu.cache.blocks.insert(key, block.clone());
    }
    Ok(block)
}

/// Decode one instruction that crosses into the next page (both pages are
/// fetched, and either may fault).
fn straddling(
    cpu: &mut Cpu,
    bus: &mut Bus,
    lin: u32,
    eip: u32,
    code32: bool,
    cs: &crate::Segment,
) -> Res<Rc<Block>> {
    let mut bytes = [0u8; 15];
    let user = cpu.user_mode();
    for (i, b) in bytes.iter_mut().enumerate() {
        let off = eip.wrapping_add(i as u32);
        if off > cs.limit {
            break;
        }
        let p = cpu.translate(bus, lin.wrapping_add(i as u32), Access::Exec, user);
        match p {
            Ok(p) => *b = bus.mem.read_le::<1>(p)[0],
            Err(f) => {
                // Only a fault on a byte the instruction really uses counts:
                // decode what we have and see whether it is complete.
                let mut dec = Decoder::with_ip(
                    if code32 { 32 } else { 16 },
                    &bytes[..i],
                    u64::from(eip),
                    DecoderOptions::NONE,
                );
                let ins = dec.decode();
                if ins.code() == Code::INVALID && dec.last_error() == iced_x86::DecoderError::NoMoreBytes {
                    return Err(f);
                }
                break;
            }
        }
    }
    let mut dec = Decoder::with_ip(
        if code32 { 32 } else { 16 },
        &bytes,
        u64::from(eip),
        DecoderOptions::NONE,
    );
    let instr = dec.decode();
    let end = eip.wrapping_add(instr.len() as u32).wrapping_sub(1);
    if end > cs.limit {
        return Err(Fault::GP0);
    }
    let next_eip = if code32 {
        end.wrapping_add(1)
    } else {
        end.wrapping_add(1) & 0xffff
    };
    let handler = handler_for(&instr);
    Ok(Rc::new(Block::new(
        vec![DecodedInsn {
            instr,
            handler,
            pre: crate::interp::ops::Pre::of(&instr),
            next_eip,
        }],
        end,
    )))
}

/// Instructions after which decoding stops: control transfers and anything
/// that can change how the following bytes decode or execute.
fn ends_block(i: &Instruction) -> bool {
    use iced_x86::FlowControl as F;
    !matches!(i.flow_control(), F::Next) || crate::interp::is_mode_changing(i)
}
