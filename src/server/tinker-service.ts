/**
 * The state behind `loops-web serve`'s routes: the engine, sessions (kept alive by heartbeats;
 * a session silent for `sessionTimeoutMs` is ended and its runs and samplers freed), the models
 * (Tinker's name for a training run; model id = the engine's run id), the sampling sessions (an
 * engine sampler each), the futures and the per-model seq_id order. Routes (routes-*.ts) translate
 * requests into engine calls through this object.
 */
import { randomBytes } from 'node:crypto';
import type { EngineApi } from '../protocol/engine-api';
import type { LoopsModelFacts, UntypedAPIFuture } from '../protocol/tinker-wire';
import type { ModelFacts } from '../protocol/wire-types';
import { FutureStore, type FutureStoreOptions } from './futures';
import { HttpError } from './http-server';
import { SeqConflict, SeqGate } from './seq-gate';

export interface ServiceOptions {
  /** Where the engine fetches Hugging Face repo ids from. */
  readonly hubUrl: string;
  readonly futures: FutureStoreOptions;
  /** How long an op waits for a missing earlier seq_id before the gap is given up. */
  readonly gapMs: number;
  /** A session with no heartbeat (or other call) for this long is ended. */
  readonly sessionTimeoutMs: number;
  /** The loops-web version reported in get_server_capabilities. */
  readonly version: string;
}

export interface ModelRecord {
  readonly modelId: string;
  readonly sessionId: string;
  readonly baseModel: string;
  loraRank: number;
  readonly vocabSize: number;
  readonly maxSeqLen: number;
  policyVersion: number;
  readonly createdAt: string;
}

export interface SamplerRecord {
  readonly id: string;
  readonly sessionId: string | null;
  readonly baseModel: string;
  readonly modelPath: string | null;
  readonly policyVersion: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly eosTokenIds: readonly number[];
}

interface SessionRecord {
  lastSeen: number;
  readonly models: Set<string>;
  readonly samplers: Set<string>;
  /** model_seq_id → request id of its create_model (a resent create gets the same future). */
  readonly creates: Map<number, string>;
  /** sampling_session_seq_id → sampling session id. */
  readonly samplingSessions: Map<number, Promise<string>>;
}

export class TinkerService {
  readonly futures: FutureStore;
  readonly gate: SeqGate;
  readonly models = new Map<string, ModelRecord>();
  readonly samplers = new Map<string, SamplerRecord>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly facts = new Map<string, Promise<ModelFacts>>();
  /** Unordered ops already taken (samples): key → [body digest, request id]. */
  private readonly taken = new Map<string, readonly [string, string]>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    readonly engine: EngineApi,
    readonly options: ServiceOptions,
  ) {
    this.futures = new FutureStore(options.futures);
    this.gate = new SeqGate(options.gapMs);
    this.sweeper = setInterval(() => void this.sweep(), Math.min(options.sessionTimeoutMs, 60_000));
    this.sweeper.unref();
  }

  openSession(): string {
    const id = `session-${randomBytes(6).toString('hex')}`;
    this.sessions.set(id, {
      lastSeen: Date.now(),
      models: new Set(),
      samplers: new Set(),
      creates: new Map(),
      samplingSessions: new Map(),
    });
    return id;
  }

  /** The session (marked as seen now), or 404. */
  session(id: string): SessionRecord {
    const s = this.sessions.get(id);
    if (!s)
      throw new HttpError(
        404,
        `session ${id} not found (it ended, or the server restarted); create a new ServiceClient.`,
      );
    s.lastSeen = Date.now();
    return s;
  }

  model(id: string): ModelRecord {
    const m = this.models.get(id);
    if (!m)
      throw new HttpError(
        404,
        `model ${id} not found (it was unloaded, its session ended, or the server restarted).`,
      );
    this.touch(m.sessionId);
    return m;
  }

  sampler(id: string): SamplerRecord {
    const s = this.samplers.get(id);
    if (!s)
      throw new HttpError(404, `sampling session ${id} not found; create a new SamplingClient.`);
    if (s.sessionId) this.touch(s.sessionId);
    return s;
  }

  addModel(record: ModelRecord): void {
    this.models.set(record.modelId, record);
    this.sessions.get(record.sessionId)?.models.add(record.modelId);
    this.gate.open(record.modelId);
  }

  addSampler(record: SamplerRecord): void {
    this.samplers.set(record.id, record);
    if (record.sessionId) this.sessions.get(record.sessionId)?.samplers.add(record.id);
  }

  async dropModel(modelId: string): Promise<void> {
    const m = this.models.get(modelId);
    if (!m) return;
    this.models.delete(modelId);
    this.sessions.get(m.sessionId)?.models.delete(modelId);
    await this.engine.closeRun(modelId);
    this.gate.close(modelId);
  }

  async dropSampler(id: string): Promise<void> {
    const s = this.samplers.get(id);
    if (!s) return;
    this.samplers.delete(id);
    if (s.sessionId) this.sessions.get(s.sessionId)?.samplers.delete(id);
    await this.engine.closeSampler(id);
  }

  /**
   * An op on `modelId` in its seq_id turn: the answer is its future. A resend of an op already
   * taken gets the same future; a reused seq_id with another body is a 409.
   */
  ordered(
    modelId: string,
    seqId: number | undefined,
    digest: string,
    work: () => Promise<unknown>,
  ): UntypedAPIFuture {
    try {
      const replayed = this.gate.replay(modelId, seqId, digest);
      if (replayed) return { request_id: replayed, model_id: modelId };
    } catch (error) {
      if (error instanceof SeqConflict) throw new HttpError(409, error.message);
      throw error;
    }
    let start!: () => void;
    const started = new Promise<void>((resolve) => (start = resolve));
    const requestId = this.futures.add(started.then(work));
    this.gate.admit(modelId, seqId, digest, requestId, start);
    return { request_id: requestId, model_id: modelId };
  }

  /**
   * A future for an op that needs no order (a sample), taken once per `key` (sampling session and
   * seq_id): a resend gets the first request id, a reused key with another body is a 409.
   */
  once(key: string, digest: string, work: () => Promise<unknown>): string {
    const seen = this.taken.get(key);
    if (seen) {
      if (seen[0] !== digest)
        throw new HttpError(409, `${key} was already used for another request`);
      return seen[1];
    }
    const id = this.futures.add(Promise.resolve().then(work));
    this.taken.set(key, [digest, id]);
    if (this.taken.size > 10_000) this.taken.delete(this.taken.keys().next().value!);
    return id;
  }

  /** Facts of a base model (loads it once to read them; cached). */
  modelFacts(baseModel: string): Promise<ModelFacts> {
    let facts = this.facts.get(baseModel);
    if (!facts) {
      facts = this.engine
        .createSampler({ kind: 'base', baseModel, hubUrl: this.options.hubUrl })
        .then(async (info) => {
          await this.engine.closeSampler(info.samplerId);
          const { samplerId: _id, policyVersion: _v, path: _p, ...rest } = info;
          return rest;
        });
      this.facts.set(baseModel, facts);
      facts.catch(() => this.facts.delete(baseModel));
    }
    return facts;
  }

  async modelFactsWire(baseModel: string): Promise<LoopsModelFacts> {
    const f = await this.modelFacts(baseModel);
    return {
      base_model: f.baseModel,
      vocab_size: f.vocabSize,
      max_positions: f.maxPositions,
      eos_token_ids: [...f.eosTokenIds],
      tokenizer_json: f.tokenizer.tokenizerJson,
      tokenizer_config: f.tokenizer.tokenizerConfig,
    };
  }

  /** A resent create_model (same session and model_seq_id) gets its first future. */
  createOnce(sessionId: string, modelSeqId: number, create: () => string): string {
    const session = this.session(sessionId);
    const existing = session.creates.get(modelSeqId);
    if (existing && this.futures.has(existing)) return existing;
    const id = create();
    session.creates.set(modelSeqId, id);
    return id;
  }

  /** A resent create_sampling_session gets the session it made the first time. */
  samplingSessionOnce(
    sessionId: string,
    seqId: number,
    create: () => Promise<string>,
  ): Promise<string> {
    const session = this.session(sessionId);
    let made = session.samplingSessions.get(seqId);
    if (!made) {
      made = create();
      session.samplingSessions.set(seqId, made);
      made.catch(() => session.samplingSessions.delete(seqId));
    }
    return made;
  }

  /** Ends sessions not seen for `sessionTimeoutMs`, freeing their runs and samplers. */
  async sweep(now = Date.now()): Promise<void> {
    for (const [id, s] of this.sessions) {
      if (now - s.lastSeen < this.options.sessionTimeoutMs) continue;
      this.sessions.delete(id);
      for (const m of s.models) await this.dropModel(m).catch(() => undefined);
      for (const sm of s.samplers) await this.dropSampler(sm).catch(() => undefined);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.futures.wakeAll();
  }

  private touch(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (s) s.lastSeen = Date.now();
  }
}
