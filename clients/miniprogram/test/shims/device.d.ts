// What a runtime shim needs of the simulated device (../helpers.js makeDevice):
// plain primitives, no runtime's types, so each shim is checked against its
// own runtime's published typings alone.

export interface HttpRequest {
  url: string;
  method?: string;
  header?: Record<string, string>;
  data?: unknown;
}

export interface HttpResponse {
  statusCode: number;
  header: Record<string, string>;
  data: any;
}

export interface Device {
  /** what the runtime's account-info call reports */
  appid: string;
  /** false: the account-info call fails, as on a runtime without it */
  accountInfo: boolean;
  /** the runtime's login: a code from the simulator; err is an errMsg */
  simLogin(done: (err: string | null, code?: string) => void): void;
  /** one HTTP exchange; err (an errMsg) only when no answer came */
  http(req: HttpRequest, done: (err: string | null, res?: HttpResponse) => void): void;
  storage: {
    get(key: string): any;
    set(key: string, value: unknown): void;
    remove(key: string): void;
  };
}
