/**
 * The GraphQL operations tilelens sends to MapSwipe's backend (Django + Strawberry, `/graphql/`), and
 * the shapes of their variables. Every mutation answers a union: the resource's `…MutationResponseType`
 * `{ ok, errors, result }`, or `OperationInfo { messages }` when refused (permission, validation). One
 * module, so following a newer backend means editing one file; the stand-in the tests run validates
 * every document here against the schema written from the public facts (tests/support/mapswipe-stand-in.ts).
 */

/** Fields asked back from every project mutation: enough to store the id and the status. */
const PROJECT_PAYLOAD = `
    __typename
    ... on ProjectTypeMutationResponseType { ok errors result { id clientId status processingStatus } }
    ... on OperationInfo { messages { kind field message code } }`;

export const LOGIN = `mutation Login($username: String!, $password: String!) {
  login(username: $username, password: $password) { id displayName }
}`;

export const CREATE_PROJECT = `mutation CreateProject($data: ProjectCreateInput!) {
  createProject(data: $data) {${PROJECT_PAYLOAD}
  }
}`;

export const CREATE_PROJECT_ASSET = `mutation CreateProjectAsset($data: ProjectAssetCreateInput!) {
  createProjectAsset(data: $data) {
    __typename
    ... on ProjectAssetTypeMutationResponseType { ok errors result { id clientId inputType } }
    ... on OperationInfo { messages { kind field message code } }
  }
}`;

export const UPDATE_PROJECT = `mutation UpdateProject($pk: ID!, $data: ProjectUpdateInput!) {
  updateProject(pk: $pk, data: $data) {${PROJECT_PAYLOAD}
  }
}`;

export const UPDATE_PROJECT_STATUS = `mutation UpdateProjectStatus($pk: ID!, $data: ProjectStatusUpdateInput!) {
  updateProjectStatus(pk: $pk, data: $data) {${PROJECT_PAYLOAD}
  }
}`;

/** Projects of a topic, to find one a lost answer created (matched by its clientId). */
export const PROJECTS_BY_TOPIC = `query ProjectsByTopic($topic: String!, $offset: Int!, $limit: Int!) {
  projects(filters: { topic: $topic }, pagination: { offset: $offset, limit: $limit }) {
    totalCount
    results { id clientId status processingStatus }
  }
}`;

/** A project's input assets, to find an area upload a lost answer created (matched by its clientId). */
export const PROJECT_ASSETS = `query ProjectAssets($project: ID!, $offset: Int!, $limit: Int!) {
  projectAssets(filters: { projectId: { exact: $project } }, pagination: { offset: $offset, limit: $limit }) {
    totalCount
    results { id clientId inputType }
  }
}`;

export const PROJECT_STATUS = `query ProjectStatus($id: ID!) {
  project(id: $id) { id clientId status processingStatus statusMessage }
}`;

// ── variables ───────────────────────────────────────────────────────────────────────────────────────

export type MapswipeProjectType =
  'FIND' | 'VALIDATE' | 'COMPARE' | 'COMPLETENESS' | 'STREET' | 'LOCATE' | 'VALIDATE_IMAGE';

export interface ProjectCreateInput {
  clientId: string;
  projectType: MapswipeProjectType;
  topic: string;
  region: string;
  projectNumber: number;
  requestingOrganization: string;
  projectInstruction: string;
  lookFor?: string;
  description?: string;
  additionalInfoUrl?: string;
  team?: string;
}

export interface RasterTileServerInput {
  name: 'BING' | 'CUSTOM' | 'ESRI' | 'ESRI_BETA' | 'MAPBOX' | 'MAXAR_PREMIUM' | 'MAXAR_STANDARD';
  custom?: { url: string; credits: string; minZoom?: number; maxZoom?: number };
}

/** `ProjectTypeSpecificInput` is @oneOf: exactly one of these, named for the project type. */
export type ProjectTypeSpecificInput =
  | { find: { aoiGeometry: string; tileServerProperty: RasterTileServerInput; zoomLevel: number } }
  | {
      validate: {
        objectSource: {
          sourceType: 'OBJECT_GEOJSON_URL' | 'AOI_GEOJSON_FILE' | 'TASKING_MANAGER';
          objectGeojsonUrl?: string;
          aoiGeometry?: string;
          ohsomeFilter?: string;
          taskingManagerProjectId?: string;
        };
        tileServerProperty: RasterTileServerInput;
        customOptions?: unknown[];
      };
    }
  | Record<string, Record<string, unknown>>;

export interface ProjectUpdateInput {
  clientId: string;
  groupSize?: number;
  verificationNumber?: number;
  lookFor?: string;
  projectInstruction?: string;
  description?: string;
  projectTypeSpecifics?: ProjectTypeSpecificInput;
}

export type ProjectStatus =
  | 'DRAFT'
  | 'READY_TO_PROCESS'
  | 'PROCESSED'
  | 'READY_TO_PUBLISH'
  | 'PUBLISHED'
  | 'PROCESSING_FAILED'
  | 'PUBLISHING_FAILED'
  | 'PAUSED'
  | 'FINISHED'
  | 'WITHDRAWN'
  | 'DISCARDED';

/** The field of `ProjectTypeSpecificInput` for a project type: FIND → find, VALIDATE_IMAGE → validateImage. */
export function specificsField(type: MapswipeProjectType): string {
  return type.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}
